package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
)

// DefaultTarget is the domain whose MX the proxies must reach when no
// target is given: a large mailbox provider whose servers are always up,
// resolved at run time. Its EHLO reply also shows the client's address.
const DefaultTarget = "gmail.com"

// DefaultTimeout bounds the checks of one proxy when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// proxyParallelism bounds how many proxies are checked at once.
const proxyParallelism = 4

// Resolver is what the doctor needs from engine/mx.
type Resolver interface {
	LookupMX(ctx context.Context, domain string) (mx.Records, error)
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// Config is what the doctor checks: the settings the engine verifies with.
type Config struct {
	// Resolver answers MX and address queries (required).
	Resolver Resolver
	// DNSServers are the resolvers, host:port, for the report and for the
	// PTR queries; empty means the system's (/etc/resolv.conf).
	DNSServers []string
	// Proxies are checked one by one, each on its own; their IDs name them
	// in the report.
	Proxies []dialer.Proxy
	// AllowDirect checks a direct connection when no proxy is configured.
	AllowDirect bool
	// AllowPrivateMX lets the target be on a private or loopback address.
	AllowPrivateMX bool
	// CheckAddr is the SSRF guard (dialer.CheckAddr when nil).
	CheckAddr func(netip.Addr) error
	// HelloName and FromEmail are the EHLO name and MAIL FROM address.
	HelloName, FromEmail string
	// Port is the SMTP port of the target (25 when 0).
	Port int
	// Timeout bounds the checks of each proxy (DefaultTimeout when 0).
	Timeout time.Duration
	// Summary describes the loaded configuration for the config line.
	Summary string
	// Warnings are the configuration loader's, one warn line each.
	Warnings []string
}

// Doctor runs the checks. It is safe for concurrent use.
type Doctor struct {
	cfg Config
	ptr ptrResolver
}

// New returns a Doctor for cfg.
func New(cfg Config) (*Doctor, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("doctor: a resolver is required")
	}
	if cfg.CheckAddr == nil {
		cfg.CheckAddr = dialer.CheckAddr
	}
	if cfg.Port == 0 {
		cfg.Port = 25
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.Proxies = slices.Clone(cfg.Proxies) // named below: the caller's stay as they are
	for i := range cfg.Proxies {
		if cfg.Proxies[i].ID == "" {
			cfg.Proxies[i].ID = fmt.Sprintf("proxy-%d", i)
		}
	}
	return &Doctor{cfg: cfg, ptr: ptrResolver{servers: cfg.DNSServers}}, nil
}

// Run checks the configuration, DNS and every proxy against target (a
// domain, an MX host name or an IP address; DefaultTarget when empty).
// It never returns an error: every problem is a failed check.
func (d *Doctor) Run(ctx context.Context, target string) Report {
	if target == "" {
		target = DefaultTarget
	}
	r := Report{Target: Target{Input: target}}
	r.Checks = append(r.Checks, d.configChecks()...)
	tgt, checks := d.resolveTarget(ctx, target)
	r.Checks = append(r.Checks, checks...)
	r.Checks = append(r.Checks, d.helloCheck(), d.fromCheck(ctx))
	if tgt.ok {
		r.Target.Host, r.Target.Addr = tgt.host, tgt.addr
	}

	if len(d.cfg.Proxies) == 0 {
		if !d.cfg.AllowDirect {
			r.Checks = append(r.Checks, Check{Name: CheckProxy, Status: Fail,
				Reason: "no SOCKS5 proxy is configured and direct connections are not allowed, so no SMTP check can run",
				Fix:    "give one with --proxy socks5://user:pass@host:1080, [proxy] in backend_config.toml, RCH__PROXY__HOST or MAILPROBE_PROXIES (or --allow-direct where outbound port 25 is open)"})
			return finish(r)
		}
		pr, checks := d.checkDirect(ctx, tgt)
		pr.OK = tgt.ok && passed(checks)
		r.Checks = append(r.Checks, checks...)
		r.Proxies = append(r.Proxies, pr)
		return finish(r)
	}

	reports := make([]ProxyReport, len(d.cfg.Proxies))
	perProxy := make([][]Check, len(d.cfg.Proxies))
	var g errgroup.Group
	g.SetLimit(proxyParallelism)
	for i, p := range d.cfg.Proxies {
		g.Go(func() error {
			reports[i], perProxy[i] = d.checkProxy(ctx, p, tgt)
			reports[i].OK = tgt.ok && passed(perProxy[i])
			return nil
		})
	}
	_ = g.Wait()
	for _, c := range perProxy {
		r.Checks = append(r.Checks, c...)
	}
	r.Proxies = reports
	return finish(r)
}

// passed reports whether none of checks failed.
func passed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Fail {
			return false
		}
	}
	return true
}

// configChecks reports the loaded configuration and its warnings.
func (d *Doctor) configChecks() []Check {
	summary := d.cfg.Summary
	if summary == "" {
		summary = "configuration loaded"
	}
	out := []Check{{Name: CheckConfig, Status: Pass, Reason: summary}}
	for _, w := range d.cfg.Warnings {
		out = append(out, Check{Name: CheckConfig, Status: Warn, Reason: w,
			Fix: "remove the setting, or see the README's migration notes for what replaces it"})
	}
	return out
}

// resolved is the target as dialled.
type resolved struct {
	ok   bool
	host string // MX host name, or the IP given
	addr string // ip:port
}

// resolveTarget turns target into an address to dial, reporting the dns
// check (the resolver answered) and the target check (it gave a usable
// address).
func (d *Doctor) resolveTarget(ctx context.Context, target string) (resolved, []Check) {
	name := strings.TrimSuffix(strings.TrimSpace(target), ".")
	if ip, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		// The target needs no lookup, but the engine's MX lookups do:
		// the resolver is asked about the default target instead.
		return d.pickAddr(name, []netip.Addr{ip}, d.dnsProbe(ctx, DefaultTarget))
	}
	start := time.Now()
	recs, err := d.cfg.Resolver.LookupMX(ctx, name)
	dnsCheck := Check{Name: CheckDNS, Status: Pass, DurationMS: ms(time.Since(start))}
	var re *mx.ResolveError
	switch {
	case errors.As(err, &re):
		dnsCheck.Status, dnsCheck.Reason = Fail, fmt.Sprintf("%s did not answer the MX query for %s: %v", d.servers(), name, err)
		dnsCheck.Fix = dnsFix
		return resolved{}, []Check{dnsCheck}
	case errors.Is(err, mx.ErrNXDomain), errors.Is(err, mx.ErrNoMail):
		dnsCheck.Reason = fmt.Sprintf("%s answered the MX query for %s", d.servers(), name)
		return resolved{}, []Check{dnsCheck, {Name: CheckTarget, Status: Fail,
			Reason: fmt.Sprintf("%s has no mail server: %v", name, err), Fix: "give --target a domain or MX host that exists"}}
	case err != nil:
		dnsCheck.Status, dnsCheck.Reason = Fail, fmt.Sprintf("MX query for %s: %v", name, err)
		return resolved{}, []Check{dnsCheck}
	case recs.Null:
		dnsCheck.Reason = fmt.Sprintf("%s answered the MX query for %s", d.servers(), name)
		return resolved{}, []Check{dnsCheck, {Name: CheckTarget, Status: Fail,
			Reason: name + " accepts no mail (null MX, RFC 7505)", Fix: "give --target a domain that receives mail"}}
	}
	host := strings.TrimSuffix(recs.Hosts[0].Name, ".")
	if recs.Implicit {
		dnsCheck.Reason = fmt.Sprintf("%s answered: %s has no MX record, its own address is used (implicit MX)", d.servers(), name)
	} else {
		dnsCheck.Reason = fmt.Sprintf("%s answered: the MX of %s is %s", d.servers(), name, host)
	}
	ips, err := d.cfg.Resolver.LookupIP(ctx, host)
	if err != nil {
		return resolved{}, []Check{dnsCheck, {Name: CheckTarget, Status: Fail,
			Reason: fmt.Sprintf("MX host %s has no usable address: %v", host, err), Fix: "give --target another domain or MX host"}}
	}
	return d.pickAddr(host, ips, dnsCheck)
}

// dnsProbe is the dns check alone: any answer, NXDOMAIN included, shows
// the resolver works.
func (d *Doctor) dnsProbe(ctx context.Context, name string) Check {
	start := time.Now()
	_, err := d.cfg.Resolver.LookupMX(ctx, name)
	c := Check{Name: CheckDNS, Status: Pass, DurationMS: ms(time.Since(start)),
		Reason: fmt.Sprintf("%s answered the MX query for %s", d.servers(), name)}
	var re *mx.ResolveError
	if errors.As(err, &re) {
		c.Status, c.Reason = Fail, fmt.Sprintf("%s did not answer the MX query for %s: %v", d.servers(), name, err)
		c.Fix = dnsFix
	}
	return c
}

// dnsFix is the advice for a resolver that does not answer.
const dnsFix = "check the dns setting (--dns, RCH__DNS) or /etc/resolv.conf: the resolver must be reachable from where mailprobe runs"

// pickAddr chooses the address to dial: the first IPv4 address the guard
// allows (proxies with IPv4 only are the rule), else the first IPv6.
func (d *Doctor) pickAddr(host string, ips []netip.Addr, dnsCheck Check) (resolved, []Check) {
	var chosen netip.Addr
	var refused error
	for _, ip := range ips {
		ip = ip.Unmap()
		if !d.cfg.AllowPrivateMX {
			if err := d.cfg.CheckAddr(ip); err != nil {
				refused = err
				continue
			}
		}
		if !chosen.IsValid() || (chosen.Is6() && ip.Is4()) {
			chosen = ip
		}
	}
	if !chosen.IsValid() {
		return resolved{}, []Check{dnsCheck, {Name: CheckTarget, Status: Fail,
			Reason: fmt.Sprintf("%s is refused by the SSRF guard: %v", host, refused),
			Fix:    "use a public mail server as --target (--allow-private-mx only for test servers)"}}
	}
	addr := netip.AddrPortFrom(chosen, uint16(d.cfg.Port)).String()
	return resolved{ok: true, host: host, addr: addr}, []Check{dnsCheck, {Name: CheckTarget, Status: Pass,
		Reason: fmt.Sprintf("%s at %s", host, addr)}}
}

// servers names the resolvers for the report.
func (d *Doctor) servers() string {
	if len(d.cfg.DNSServers) == 0 {
		return "the system resolver"
	}
	return "resolver " + strings.Join(d.cfg.DNSServers, ", ")
}

// ErrBadTarget is wrapped by ValidateTarget's errors.
var ErrBadTarget = errors.New("invalid target")

// ValidateTarget accepts what Run takes as a target: empty (the default),
// a domain or host name, or an IP address, optionally in brackets. It
// bounds what a caller of GET /v1/doctor can make the doctor resolve.
func ValidateTarget(s string) error {
	if s == "" {
		return nil
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return nil
	}
	if len(s) > 253 {
		return fmt.Errorf("%w: longer than 253 characters", ErrBadTarget)
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
		if !ok {
			return fmt.Errorf("%w: want a domain, an MX host name or an IP address", ErrBadTarget)
		}
	}
	return nil
}
