package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/mailprobe/mailprobe/engine/address"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// route is where one SMTP conversation goes and how.
type route struct {
	settings SMTPSettings
	provider Provider
	dialer   Dialer
	proxy    *ProxyInfo
}

// plan decides the method, settings and dialer for a domain whose first MX
// is hosts[0]. A nil route with a step error means SMTP is not attempted.
func (v *Verifier) plan(hosts []mx.Host, req Request) (route, *StepError) {
	prov := DetectProvider(hosts[0].Name)
	o := v.cfg.Overrides[prov]
	s := withDefaults(o.SMTPSettings, v.cfg.Defaults)
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
		d, err := v.cfg.NewProxyDialer(p)
		if err != nil {
			return route{}, &StepError{Type: "Socks5", Message: err.Error()}
		}
		r.dialer, r.proxy = d, proxyInfo(p)
	case o.ProxyID != "":
		pd := v.named[o.ProxyID]
		r.dialer, r.proxy = pd.d, proxyInfo(pd.proxy)
	case v.rotation != nil:
		p, d := v.rotation.Next()
		r.dialer, r.proxy = d, proxyInfo(p)
	case v.cfg.AllowDirect:
		r.dialer = v.cfg.Direct
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
	res.Debug.SMTP.VerifMethod = VerifMethod{Type: "Smtp", Host: hosts[0].Name, VerifMethod: &SMTPVerifDetails{
		FromEmail: rt.settings.FromEmail, HelloName: rt.settings.HelloName, Proxy: rt.proxy,
		SMTPPort: rt.settings.Port, SMTPTimeout: ptr(DurationOf(rt.settings.Timeout)), Retries: rt.settings.Retries,
	}}
	extra := &DebugExtra{Provider: string(rt.provider)}
	res.Debug.Mailprobe = extra

	step, hint := v.converse(ctx, rt, a, hosts, extra)
	if hint != nil && v.cfg.GreylistWait > 0 && ctx.Err() == nil {
		t := time.NewTimer(v.cfg.GreylistWait)
		select {
		case <-ctx.Done():
		case <-t.C:
			step, hint = v.converse(ctx, rt, a, hosts, extra)
		}
		t.Stop()
	}
	res.Retry = hint
	if hint != nil {
		extra.RetryAfterS = int(hint.After / time.Second)
	}
	return step
}

// converse tries the MX hosts in preference order, moving to the next host
// only when a connection could not be made or broke before the server gave
// an answer about the recipient (RFC 5321 §5.1). Connection-level failures
// are retried settings.Retries times over the whole list.
func (v *Verifier) converse(ctx context.Context, rt route, a address.Address, hosts []mx.Host, extra *DebugExtra) (Step[SMTP], *RetryHint) {
	ctx, cancel := context.WithTimeout(ctx, rt.settings.Timeout)
	defer cancel()
	params := smtpprobe.Params{
		HelloName:  rt.settings.HelloName,
		FromEmail:  rt.settings.FromEmail,
		Recipients: []string{a.Address},
	}
	if !v.cfg.Misc.IsFree(a.Domain) {
		// Free B2C providers are never catch-all; one RCPT fewer is one
		// reason fewer for them to throttle us (Reacher skips them too).
		params.CatchAllProbe = v.randomLocal() + "@" + a.Domain
	}
	var lastErr error
	for attempt := 0; attempt <= rt.settings.Retries; attempt++ {
		for _, h := range hosts {
			if ctx.Err() != nil {
				return v.failure(ctx, lastErr)
			}
			extra.MXTried = append(extra.MXTried, h.Name)
			conn, err := v.connect(ctx, rt, h.Name)
			if err != nil {
				lastErr = err
				if fatalDialError(err) {
					return v.failure(ctx, err)
				}
				continue
			}
			out, err := smtpprobe.Probe(ctx, conn, params, smtpprobe.ClientOptions{CommandTimeout: v.cfg.CommandTimeout})
			_ = conn.Close()
			if step, hint, done := v.outcome(out, err, extra); done {
				return step, hint
			}
			lastErr = err
		}
	}
	return v.failure(ctx, lastErr)
}

// fatalDialError reports errors that another MX or a retry cannot cure.
func fatalDialError(err error) bool {
	var pe *dialer.ProxyError
	if errors.As(err, &pe) && pe.Kind == dialer.ProxyAuth {
		return true
	}
	return errors.Is(err, dialer.ErrPrivateAddress)
}

// connect resolves an MX host and dials its addresses through the route's
// dialer. Addresses are checked before dialing, and the proxy receives an IP
// literal, so it never resolves a name we have not checked.
func (v *Verifier) connect(ctx context.Context, rt route, host string) (net.Conn, error) {
	ips, err := v.cfg.Resolver.LookupIP(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve MX host %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve MX host %s: %w", host, mx.ErrNoMail)
	}
	var lastErr error
	for _, ip := range ips {
		if !v.cfg.AllowPrivateMX {
			if err := dialer.CheckAddr(ip); err != nil {
				lastErr = fmt.Errorf("MX host %s: %w", host, err)
				continue
			}
		}
		target := net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(rt.settings.Port))
		conn, err := rt.dialer.DialContext(ctx, "tcp", target)
		if err == nil {
			return conn, nil
		}
		lastErr = fmt.Errorf("connect to MX host %s: %w", host, err)
	}
	return nil, lastErr
}
