package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/mailprobe/mailprobe/engine/address"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
)

// route is where one SMTP conversation goes and how.
type route struct {
	settings SMTPSettings
	provider Provider
	dialer   dialer.Dialer
	proxy    *ProxyInfo // nil with a rotation: known per connection
	rotating bool       // dialer is the Rotation, which picks the proxy
}

// plan decides the method, settings and dialer for a domain whose first MX
// is hosts[0]. A nil route with a step error means SMTP is not attempted.
func (v *Verifier) plan(hosts []mx.Host, req Request) (route, *StepError) {
	prov := DetectProvider(hosts[0].Name)
	o := v.cfg.Overrides[prov]
	s := o.apply(v.cfg.Defaults)
	s = withDefaults(SMTPSettings{
		FromEmail: req.FromEmail, HelloName: req.HelloName, Port: req.SMTPPort,
	}, s)
	if req.SMTPTimeout != nil {
		s.Timeout = req.SMTPTimeout.Std()
	}
	if req.Retries != nil {
		s.Retries = *req.Retries
	}
	method := o.Method
	if m := req.methodFor(prov); m != MethodDefault {
		method = m
	}
	switch method {
	case MethodSkip:
		return route{}, &StepError{Type: "Skipped", Message: fmt.Sprintf("SMTP verification is switched off for %s", providerName(prov))}
	case MethodAPI, MethodHeadless:
		return route{}, &StepError{Type: "Skipped", Message: fmt.Sprintf("mailprobe verifies %s over SMTP only; api and headless methods are not available", providerName(prov))}
	}
	r := route{settings: s, provider: prov}
	switch {
	case req.Proxy != nil:
		p := dialer.Proxy{Host: req.Proxy.Host, Port: req.Proxy.Port, Username: req.Proxy.Username,
			Password: req.Proxy.Password, Timeout: time.Duration(req.Proxy.TimeoutMS) * time.Millisecond}
		d, err := dialer.NewSOCKS5(p)
		if err != nil {
			return route{}, &StepError{Type: "Socks5", Message: err.Error()}
		}
		r.dialer, r.proxy = d, proxyInfo(p)
	case o.ProxyID != "":
		pd := v.named[o.ProxyID]
		r.dialer, r.proxy = pd.d, proxyInfo(pd.proxy)
	case v.rotation != nil:
		// The Rotation itself, not one member: it fails over to another
		// proxy and rests failing ones, and the connection tells which
		// proxy served (servedBy).
		r.dialer, r.rotating = v.rotation, true
	case v.cfg.AllowDirect:
		r.dialer = v.direct
	default:
		return route{}, &StepError{Type: "NoProxy", Message: ErrNoProxy.Error()}
	}
	return r, nil
}

func providerName(p Provider) string {
	if p == Other {
		return "this provider"
	}
	return string(p)
}

func proxyInfo(p dialer.Proxy) *ProxyInfo {
	pi := &ProxyInfo{Host: p.Host, Port: p.Port}
	if p.Username != "" {
		pi.Username = ptr(p.Username)
	}
	return pi
}

// smtpStep runs the SMTP conversation for one address and fills the smtp
// object, the debug details and the retry hint.
func (v *Verifier) smtpStep(ctx context.Context, res *Result, a address.Address, hosts []mx.Host, req Request) Step[SMTP] {
	rt, serr := v.plan(hosts, req)
	if serr != nil {
		return Failed[SMTP](serr)
	}
	extra := smtpDebug(res, rt, hosts)
	j := v.newJob(rt, hosts, a.Domain, []string{a.Address}, []bool{a.RequiresSMTPUTF8()}, []*DebugExtra{extra})
	j.run(ctx)
	ans := &j.answers[0]
	res.Retry = ans.hint
	ans.reportProxy(res, rt)
	return ans.step
}

// smtpDebug fills the debug details of an SMTP check by route rt and
// returns mailprobe's own part of them, for the job to complete.
func smtpDebug(res *Result, rt route, hosts []mx.Host) *DebugExtra {
	var proxy *ProxyInfo
	if rt.proxy != nil {
		p := *rt.proxy // results of a batch share a route, not its memory
		proxy = &p
	}
	res.Debug.SMTP.VerifMethod = VerifMethod{Type: "Smtp", Host: hosts[0].Name, VerifMethod: &SMTPVerifDetails{
		FromEmail: rt.settings.FromEmail, HelloName: rt.settings.HelloName, Proxy: proxy,
		SMTPPort: rt.settings.Port, SMTPTimeout: ptr(DurationOf(rt.settings.Timeout)), Retries: rt.settings.Retries,
	}}
	extra := &DebugExtra{Provider: string(rt.provider)}
	res.Debug.Mailprobe = extra
	return extra
}

// targets resolves an MX host to the addresses that may be dialled.
// Addresses are checked before dialing, and the proxy receives an IP
// literal, so it never resolves a name we have not checked. When every
// address is refused the error wraps dialer.ErrPrivateAddress.
func (v *Verifier) targets(ctx context.Context, host string) ([]netip.Addr, error) {
	ips, err := v.cfg.Resolver.LookupIP(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve MX host %s: %w", host, err)
	}
	if v.cfg.AllowPrivateMX {
		return ips, nil
	}
	ok := ips[:0:0]
	var refused error
	for _, ip := range ips {
		if err := v.cfg.CheckAddr(ip); err != nil {
			refused = fmt.Errorf("MX host %s: %w", host, err)
			continue
		}
		ok = append(ok, ip)
	}
	if len(ok) == 0 {
		return nil, refused
	}
	return ok, nil
}

// connect dials the addresses of an MX host in turn through the route's
// dialer, until one answers.
func (v *Verifier) connect(ctx context.Context, rt route, host string, ips []netip.Addr) (net.Conn, error) {
	var lastErr error
	for _, ip := range ips {
		target := net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(rt.settings.Port))
		conn, err := rt.dialer.DialContext(ctx, "tcp", target)
		if err == nil {
			return conn, nil
		}
		lastErr = fmt.Errorf("connect to MX host %s: %w", host, err)
	}
	return nil, lastErr
}

// servedBy returns the proxy conn goes through: a rotation's choice is
// known only once it connected.
func servedBy(conn net.Conn, rt route) *ProxyInfo {
	if pc, ok := conn.(*dialer.Conn); ok && rt.rotating {
		return proxyInfo(pc.Proxy())
	}
	return rt.proxy
}
