// Package smtpstep is the SMTP step of a verification: for the addresses
// of one domain that share a route, it runs SMTP sessions, judges every
// answer and decides what to ask again within the check. It reads top to
// bottom:
//
//	Run            step.go     ask every address, ask again after greylisting, settle the catch-all
//	  ask          ask.go      sessions over a queue of addresses, each address with its tries
//	    session    session.go  one SMTP session: resolve, wait for politeness, connect, probe
//	  judge        judge.go    what a reply or a failure says about an address or the domain
//	  retry        retry.go    what is asked again within the check, and when
//	  catch-all    catchall.go the domain's probe: which domains, which address, how it counts
//
// The engine plans the Route from its configuration and the request and
// turns the Answers into Reacher's smtp object. Nothing here calls back
// into the engine.
package smtpstep

import (
	"context"
	"io"
	"net/netip"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// Route is where a domain's sessions go and how.
type Route struct {
	Hosts     []mx.Host // the domain's MX hosts, in preference order
	HelloName string
	FromEmail string
	Port      int
	// Timeout bounds the servers' time for one address: every MX host and
	// every try. Our own waits (politeness, backoff) do not count.
	Timeout time.Duration
	// Attempts is how many times the MX hosts are walked, at once, when
	// no server answers about an address: Reacher's retries, which counts
	// connections, not retries (0 and 1 both mean one walk).
	Attempts int
	Dialer   dialer.Dialer
	Proxy    *dialer.Proxy // the proxy of every session; nil when direct or rotating
	Rotating bool          // Dialer is a rotation: the proxy is known per connection
}

// Resolver finds the addresses of an MX host. Its contract is mx's: at
// least one address or an error.
type Resolver interface {
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// Limiter paces sessions per MX host (see engine.Limiter): release gives
// back the RCPTs a session announced but did not send.
type Limiter interface {
	Acquire(ctx context.Context, mxHost string, rcpts int) (release func(sent int), err error)
}

// Deferrer is a Limiter that also holds back every session to an MX host
// that asked us to slow down (421, 452 4.5.3, a 4xx to MAIL FROM), not only
// this run's.
type Deferrer interface {
	Defer(mxHost string, until time.Time)
}

// Env holds what every run shares: collaborators and knobs. The engine
// builds it once.
type Env struct {
	Resolver Resolver
	// CheckAddr refuses MX addresses that must not be dialled; nil
	// allows every address.
	CheckAddr func(netip.Addr) error
	Limiter   Limiter // nil: no limits
	Client    smtpprobe.ClientOptions
	// MaxRecipientsPerSession caps the addresses of one session, and
	// SessionsPerDomain the sessions of one run at once.
	MaxRecipientsPerSession int
	SessionsPerDomain       int
	// GreylistWait, when positive, is how long the run waits before
	// asking again, once, about addresses (and a catch-all probe) that
	// got a temporary answer.
	GreylistWait time.Duration
	// DomainBackoff is how long an MX host that deferred a whole domain
	// is left alone when its reply names no wait.
	DomainBackoff time.Duration
	// ProbeSecret keys the catch-all probe address of a job (catchall.go).
	ProbeSecret []byte
	Random      io.Reader // the probe address of a run outside any job
}

// Domain is the work of one run: addresses of one domain, for one job.
type Domain struct {
	Name string
	// Job names the work the addresses belong to (a bulk job, a CLI run):
	// every run of one job probes a domain with the same catch-all
	// address. "" gives the run an address of its own.
	Job   string
	Addrs []Address
}

// Address is one address to ask about.
type Address struct {
	Addr string
	UTF8 bool // needs SMTPUTF8, so never shares a transaction with ASCII ones
}

// Answer is what the step learnt about one address.
type Answer struct {
	Facts   Facts    // the mailbox as the server described it; valid when Failure is nil
	Failure *Failure // why there is no definite answer
	Retry   *Retry   // asking later may give one
	// CatchAll is the domain's catch-all answer as it bears on this
	// address: set for an accepted address of a probed domain.
	CatchAll CatchAll
	// Host is the MX host that answered; Proxy served the last session
	// that connected (nil when direct or none connected).
	Host      string
	Proxy     *dialer.Proxy
	LastReply string   // the last reply that concerned the address
	MXTried   []string // MX hosts of the sessions that carried the address
	Sessions  int      // sessions that connected with the address on board
	// Waited is the time sessions about the address spent waiting for
	// politeness (the limiter, a deferred MX host): not the servers' time.
	Waited time.Duration
	// Final is true when the answer was reached while ctx was live: one
	// cut short by ctx must not be stored as final.
	Final bool
}

// Facts is Reacher's smtp object.
type Facts struct {
	CanConnect  bool
	FullInbox   bool
	CatchAll    bool
	Deliverable bool
	Disabled    bool
}

// Failure is Reacher's error object for the smtp step.
type Failure struct {
	Type        string // one of Reacher's SmtpError variants (Type*)
	Message     string
	Description string        // IpBlacklisted or NeedsRDNS, as Reacher
	Cause       Cause         // mailprobe's finer reason (cause.go)
	Allowed     time.Duration // for TypeTimeout: the time the step was allowed
	// SessionWide: the server refused the session, not the mailbox (a
	// 5xx to the banner, EHLO or MAIL FROM, or the same refusal of us to
	// the address and the catch-all probe). Every address of the domain
	// gets it from that server.
	SessionWide bool
}

// Retry says that an answer is provisional: asking again later may give a
// definite one. The caller decides when, with package retry.
type Retry struct {
	Kind   retry.Kind
	After  time.Duration // the wait the server named, else a default for the kind
	Stated bool          // After is the server's own
	Reason string
	Until  time.Time // Postponed: when the politeness budget booked for it starts
}

// Run is the SMTP step for the addresses of d over route rt. The answers
// are in the order of d.Addrs.
func Run(ctx context.Context, env *Env, rt Route, d Domain) []Answer {
	s := newStep(env, rt, d)
	s.ask(ctx, s.all())      // every address; the catch-all probe rides along
	s.catchAllAlone(ctx)     // the probe, if no session could carry it
	if s.waitForAgain(ctx) { // greylist_wait, once
		s.ask(ctx, s.again())
		s.catchAllAlone(ctx)
	}
	s.conclude(ctx)
	return s.answers
}

// step is one Run.
type step struct {
	env     *Env
	rt      Route
	addrs   []Address
	answers []Answer
	ca      *catchAll
	batch   bool   // several addresses: sessions carry many, in parallel
	held    []bool // deferred with their domain: they had their extra session
}

func newStep(env *Env, rt Route, d Domain) *step {
	return &step{env: env, rt: rt, addrs: d.Addrs, answers: make([]Answer, len(d.Addrs)),
		batch: len(d.Addrs) > 1, ca: newCatchAll(env, d), held: make([]bool, len(d.Addrs))}
}

// all lists the indices of every address.
func (s *step) all() []int {
	idx := make([]int, len(s.addrs))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// conclude applies the catch-all answer to every address.
func (s *step) conclude(ctx context.Context) {
	for i := range s.answers {
		s.ca.mark(ctx, &s.answers[i])
	}
}
