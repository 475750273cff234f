// Package engine verifies e-mail addresses without sending mail: syntax,
// DNS MX, then an SMTP conversation through a SOCKS5 proxy, and the verdict.
// It knows nothing of AWS or HTTP; callers build one Verifier and share it.
package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine/address"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/misc"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
	"github.com/mailprobe/mailprobe/engine/smtpstep"
)

// Resolver is the DNS the engine needs; *mx.Resolver implements it, and
// its contracts are the ones an implementation must keep: in particular,
// LookupIP returns at least one address or an error (mx.ErrNoAddress for
// a host without any).
type Resolver interface {
	LookupMX(ctx context.Context, domain string) (mx.Records, error)
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// GravatarLookup finds the Gravatar image of an address, if it has one.
type GravatarLookup interface {
	Lookup(ctx context.Context, email string) (url string, found bool, err error)
}

// BreachLookup says whether an address appears in a known data breach.
type BreachLookup interface {
	Breached(ctx context.Context, email string) (bool, error)
}

// SMTPSettings are the knobs of one SMTP conversation.
type SMTPSettings struct {
	FromEmail string
	HelloName string
	Port      int
	Timeout   time.Duration // the whole SMTP step, all MX hosts and retries
	// Retries is Reacher's: how many times the MX hosts are tried, at
	// once, when none answers (connections, not retries: 0 and 1 both
	// mean one). Later retries are the caller's (package retry).
	Retries int
}

// Override is a provider's settings. Zero fields inherit the defaults,
// and so does a nil Retries: 0 retries is a setting of its own.
type Override struct {
	Method    Method
	ProxyID   string
	FromEmail string
	HelloName string
	Port      int
	Timeout   time.Duration
	Retries   *int
}

// apply returns the settings d with o's fields in place of d's.
func (o Override) apply(d SMTPSettings) SMTPSettings {
	s := withDefaults(SMTPSettings{FromEmail: o.FromEmail, HelloName: o.HelloName, Port: o.Port, Timeout: o.Timeout}, d)
	if o.Retries != nil {
		s.Retries = *o.Retries
	}
	return s
}

// Config holds everything a Verifier needs. Only Resolver is required.
type Config struct {
	BackendName    string
	Resolver       Resolver
	Proxies        []dialer.Proxy          // rotated round-robin, with failover and cooldown
	NamedProxies   map[string]dialer.Proxy // referenced by Override.ProxyID
	AllowDirect    bool                    // connect without a proxy when none is configured
	AllowPrivateMX bool                    // tests and private networks only
	// CheckAddr refuses the MX addresses that must not be probed when
	// AllowPrivateMX is false (dialer.CheckAddr when nil). Its errors
	// should wrap dialer.ErrPrivateAddress. Tests replace it to refuse
	// some private ranges and still reach a loopback server.
	CheckAddr      func(netip.Addr) error
	Defaults       SMTPSettings
	Overrides      map[Provider]Override
	CommandTimeout time.Duration // per SMTP command; 0 lets smtpprobe choose
	GreylistWait   time.Duration // when > 0, ask a greylisted address (and catch-all probe) again once after this wait
	// DomainBackoff is how long an MX host that deferred a whole domain
	// (421, 452 4.5.3, a 4xx to MAIL FROM) is left alone before one more
	// session, when its reply names no wait (DefaultDomainBackoff when
	// zero).
	DomainBackoff time.Duration
	// ProbeSecret keys the catch-all probe address of a job: every check
	// of a job probes a domain with the same address, which nobody
	// without the secret can predict. Give every process of a deployment
	// the same one; a random secret is drawn when it is empty, which
	// keeps addresses stable within this process only.
	ProbeSecret []byte
	Now         func() time.Time
	Random      io.Reader
	Misc        *misc.Checker
	Gravatar    GravatarLookup
	HIBP        BreachLookup // nil leaves misc.haveibeenpwned null

	// Limiter, when set, is asked before every SMTP session, by Verify
	// and VerifyBatch alike (politeness per MX host); nil means no limits.
	Limiter Limiter
	// MaxRecipientsPerSession caps the addresses VerifyBatch asks about
	// in one SMTP session (DefaultMaxRecipientsPerSession when zero).
	MaxRecipientsPerSession int
	// SessionsPerDomain is how many sessions VerifyBatch runs at once
	// for one domain (DefaultSessionsPerDomain when zero); the Limiter
	// still has the last word per MX host.
	SessionsPerDomain int
	// BatchDomains is how many domains VerifyBatch works on at once
	// (DefaultBatchDomains when zero).
	BatchDomains int
	// DisablePipelining ignores servers' PIPELINING offers (RFC 2920),
	// so every RCPT waits for its reply.
	DisablePipelining bool

	// ProxyFailed, when set, hears of every failed dial through Proxies
	// and NamedProxies (metrics count them per proxy id). Proxies given
	// in a request are not reported: their ids mean nothing to operators.
	ProxyFailed dialer.FailureFunc
}

// Defaults of the batch settings in Config.
const (
	// DefaultMaxRecipientsPerSession stays below the 100 recipients every
	// server must accept in one transaction (RFC 5321 §4.5.3.1.8).
	DefaultMaxRecipientsPerSession = 50
	// DefaultSessionsPerDomain matches the politeness default of two
	// sessions per MX host.
	DefaultSessionsPerDomain = 2
	DefaultBatchDomains      = 8
	// DefaultDomainBackoff matches Postfix's anvil_rate_time_unit, the
	// window of its connection and rate limits.
	DefaultDomainBackoff = time.Minute
)

// ErrNoProxy means SMTP was refused because no proxy is configured and
// direct connections were not allowed.
var ErrNoProxy = errors.New("no SOCKS5 proxy configured and direct connections are not allowed (set --proxy, or --allow-direct where port 25 is open)")

// Verifier runs verifications. It is safe for concurrent use.
type Verifier struct {
	cfg      Config
	step     *smtpstep.Env
	rotation *dialer.Rotation
	named    map[string]proxyDialer
	direct   dialer.Dialer // nil unless cfg.AllowDirect
}

type proxyDialer struct {
	proxy dialer.Proxy
	d     dialer.Dialer
}

// New validates the configuration and builds the proxy dialers once.
func New(cfg Config) (*Verifier, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("engine: a resolver is required")
	}
	cfg.Defaults = withDefaults(cfg.Defaults, SMTPSettings{
		FromEmail: "hello@localhost", HelloName: "localhost", Port: 25, Timeout: 45 * time.Second,
	})
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Misc == nil {
		cfg.Misc = misc.New()
	}
	if cfg.CheckAddr == nil {
		cfg.CheckAddr = dialer.CheckAddr
	}
	cfg.MaxRecipientsPerSession = positive(cfg.MaxRecipientsPerSession, DefaultMaxRecipientsPerSession)
	cfg.SessionsPerDomain = positive(cfg.SessionsPerDomain, DefaultSessionsPerDomain)
	cfg.BatchDomains = positive(cfg.BatchDomains, DefaultBatchDomains)
	if cfg.DomainBackoff <= 0 {
		cfg.DomainBackoff = DefaultDomainBackoff
	}
	if len(cfg.ProbeSecret) == 0 {
		cfg.ProbeSecret = make([]byte, 32)
		if _, err := io.ReadFull(cfg.Random, cfg.ProbeSecret); err != nil {
			return nil, fmt.Errorf("engine: probe secret: %w", err)
		}
	}
	v := &Verifier{cfg: cfg, named: make(map[string]proxyDialer, len(cfg.NamedProxies)), step: stepEnv(cfg)}
	if cfg.AllowDirect {
		v.direct = dialer.Direct(cfg.Defaults.Timeout)
	}
	if len(cfg.Proxies) > 0 {
		r, err := dialer.NewRotation(cfg.Proxies, dialer.WithFailureFunc(cfg.ProxyFailed))
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		v.rotation = r
	}
	for id, p := range cfg.NamedProxies {
		d, err := dialer.NewSOCKS5(p)
		if err != nil {
			return nil, fmt.Errorf("engine: proxy %q: %w", id, err)
		}
		v.named[id] = proxyDialer{proxy: p, d: dialer.Observed(d, p, cfg.ProxyFailed)}
	}
	for prov, o := range cfg.Overrides {
		if o.ProxyID != "" {
			if _, ok := v.named[o.ProxyID]; !ok {
				return nil, fmt.Errorf("engine: override %s names unknown proxy %q", prov, o.ProxyID)
			}
		}
		if o.Retries != nil && *o.Retries < 0 {
			return nil, fmt.Errorf("engine: override %s: negative retries", prov)
		}
	}
	return v, nil
}

// stepEnv is what every SMTP step of the Verifier shares.
func stepEnv(cfg Config) *smtpstep.Env {
	env := &smtpstep.Env{
		Resolver:                cfg.Resolver,
		Client:                  smtpprobe.ClientOptions{CommandTimeout: cfg.CommandTimeout, DisablePipelining: cfg.DisablePipelining},
		MaxRecipientsPerSession: cfg.MaxRecipientsPerSession,
		SessionsPerDomain:       cfg.SessionsPerDomain,
		GreylistWait:            cfg.GreylistWait,
		DomainBackoff:           cfg.DomainBackoff,
		ProbeSecret:             cfg.ProbeSecret,
		Random:                  cfg.Random,
		Limiter:                 cfg.Limiter, // a nil engine.Limiter converts to a nil smtpstep.Limiter
	}
	if !cfg.AllowPrivateMX {
		env.CheckAddr = cfg.CheckAddr
	}
	return env
}

// positive returns n, or def when n is not positive.
func positive(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func withDefaults(s, d SMTPSettings) SMTPSettings {
	if s.FromEmail == "" {
		s.FromEmail = d.FromEmail
	}
	if s.HelloName == "" {
		s.HelloName = d.HelloName
	}
	if s.Port == 0 {
		s.Port = d.Port
	}
	if s.Timeout == 0 {
		s.Timeout = d.Timeout
	}
	if s.Retries == 0 {
		s.Retries = d.Retries
	}
	return s
}

// Verify checks one address. The returned error is non-nil only when ctx
// ended before the check could conclude: the partial result must then not
// be stored as final. Every other failure is part of the Result.
func (v *Verifier) Verify(ctx context.Context, req Request) (Result, error) {
	start := v.cfg.Now()
	res, addr, ok := v.begin(req)
	if !ok {
		v.finish(&res, start)
		return res, nil
	}
	// The misc lookups (HTTP, up to seconds each) run alongside the MX
	// and SMTP steps and alongside each other, as in VerifyBatch: one
	// after the other they would eat the caller's budget for SMTP.
	var (
		remote remoteMisc
		wg     sync.WaitGroup
	)
	if v.cfg.HIBP != nil {
		wg.Go(func() { remote.pwned = v.breached(ctx, addr) })
	}
	if req.CheckGravatar && v.cfg.Gravatar != nil {
		wg.Go(func() { remote.gravatarURL = v.gravatar(ctx, addr) })
	}
	records, mxStep, hint := v.lookupMX(ctx, addr.Domain)
	res.MX, res.Retry = mxStep, hint
	if mxStep.Err == nil && mxStep.Value.AcceptsMail {
		res.SMTP = v.smtpStep(ctx, &res, addr, records.Hosts, req)
	}
	wg.Wait()
	remote.fill(&res.Misc.Value)
	v.conclude(&res, addr, start)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("verify %s: %w", addr.Domain, err)
	}
	return res, nil
}

// begin parses the address and fills the steps that need no network:
// syntax and the local part of misc. ok is false for an invalid address,
// whose result is then complete but for its timings.
func (v *Verifier) begin(req Request) (res Result, a address.Address, ok bool) {
	res = Result{Input: req.ToEmail}
	res.Debug.BackendName = v.cfg.BackendName
	res.Debug.SMTP.VerifMethod = VerifMethod{Type: "Skipped"}
	res.MX = OK(MX{Records: []string{}})
	a, err := address.Parse(req.ToEmail)
	if err != nil {
		res.Syntax = Syntax{}
		res.IsReachable = Invalid
		return res, a, false
	}
	res.Syntax = syntaxOf(a)
	res.Normalized = a.Normalized
	res.Misc = OK(v.localMisc(a))
	return res, a, true
}

// conclude computes the verdict, the typo suggestion and the timings.
func (v *Verifier) conclude(res *Result, a address.Address, start time.Time) {
	res.IsReachable = Verdict(res)
	res.Syntax.Suggestion = suggestion(a, res.IsReachable)
	v.finish(res, start)
}

func (v *Verifier) finish(res *Result, start time.Time) {
	end := v.cfg.Now()
	res.Debug.StartTime = start.UTC()
	res.Debug.EndTime = end.UTC()
	res.Debug.Duration = DurationOf(end.Sub(start))
}

// SyntaxOf is the syntax object of a valid address a in a result whose
// verdict is verdict. As Reacher, it holds a typo suggestion only when
// the verdict is invalid or unknown: the domain did not work out, whereas
// a real domain close to gmail.com is left alone. Code that rebuilds a
// result (a cache hit for another spelling of an address) uses it to
// write the object as the engine does.
func SyntaxOf(a address.Address, verdict Reachability) Syntax {
	s := syntaxOf(a)
	s.Suggestion = suggestion(a, verdict)
	return s
}

// suggestion is SyntaxOf's rule for the typo suggestion.
func suggestion(a address.Address, verdict Reachability) *string {
	if verdict != Invalid && verdict != Unknown {
		return nil
	}
	if sug, ok := a.Suggestion(); ok {
		return &sug
	}
	return nil
}

// syntaxOf is the syntax object of a valid address before the verdict is
// known, so without a suggestion.
func syntaxOf(a address.Address) Syntax {
	return Syntax{
		Address:         ptr(a.Address),
		Domain:          a.Domain,
		IsValidSyntax:   true,
		Username:        a.Username,
		NormalizedEmail: ptr(a.Normalized),
	}
}

func ptr[T any](v T) *T { return &v }

// dnsRetryAfter is when a domain whose resolvers failed is worth asking
// again: a SERVFAIL or timeout is usually an outage of minutes.
const dnsRetryAfter = 2 * time.Minute

// lookupMX maps the resolver's outcomes to Reacher's mx object: a domain
// that cannot receive mail is a fact (accepts_mail false), a resolver that
// failed (SERVFAIL, REFUSED, timeout: *mx.ResolveError) is an error object
// with a retry hint, since the answer is unknown, not negative.
func (v *Verifier) lookupMX(ctx context.Context, domain string) (mx.Records, Step[MX], *RetryHint) {
	recs, err := v.cfg.Resolver.LookupMX(ctx, domain)
	switch {
	case errors.Is(err, mx.ErrNXDomain), errors.Is(err, mx.ErrNoMail):
		return recs, OK(MX{Records: []string{}}), nil
	case err != nil:
		return recs, Failed[MX](&StepError{Type: ErrTypeResolve, Message: err.Error(), Cause: CauseDNS}),
			&RetryHint{After: dnsRetryAfter, Reason: "dns"}
	case recs.Null || len(recs.Hosts) == 0:
		return recs, OK(MX{Records: []string{}}), nil
	}
	names := make([]string, len(recs.Hosts))
	for i, h := range recs.Hosts {
		names[i] = h.Name
	}
	return recs, OK(MX{AcceptsMail: true, Records: names}), nil
}
