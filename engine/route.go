package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/mailprobe/mailprobe/engine/address"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/smtpstep"
)

// route is a planned SMTP step: the step's route and what the result
// reports about it.
type route struct {
	step     smtpstep.Route
	provider Provider
	retries  int // as configured, for debug.smtp.verif_method
}

// plan decides the method, settings and dialer for a domain whose MX
// hosts are hosts. A step error means SMTP is not attempted.
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
		return route{}, &StepError{Type: ErrTypeAnyhow, Cause: CauseSkipped, Message: fmt.Sprintf("SMTP verification is switched off for %s", providerName(prov))}
	case MethodAPI, MethodHeadless:
		return route{}, &StepError{Type: ErrTypeAnyhow, Cause: CauseSkipped, Message: fmt.Sprintf("mailprobe verifies %s over SMTP only; api and headless methods are not available", providerName(prov))}
	}
	rt := route{provider: prov, retries: s.Retries, step: smtpstep.Route{
		Hosts: hosts, HelloName: s.HelloName, FromEmail: s.FromEmail, Port: s.Port,
		Timeout: s.Timeout, Attempts: s.Retries,
	}}
	switch {
	case req.Proxy != nil:
		p := dialer.Proxy{ID: DefaultProxyID, Host: req.Proxy.Host, Port: req.Proxy.Port, Username: req.Proxy.Username,
			Password: req.Proxy.Password, Timeout: time.Duration(req.Proxy.TimeoutMS) * time.Millisecond}
		// The request's proxy is the client's choice: it passes the SSRF
		// guard MX hosts pass, at connect time.
		var guard []dialer.SOCKS5Option
		if !v.cfg.AllowPrivateMX {
			guard = append(guard, dialer.GuardProxy(v.cfg.CheckAddr))
		}
		d, err := dialer.NewSOCKS5(p, guard...)
		if err != nil {
			return route{}, &StepError{Type: ErrTypeSocks5, Cause: CauseProxy, Message: err.Error()}
		}
		rt.step.Dialer, rt.step.Proxy = d, &p
	case o.ProxyID != "":
		pd := v.named[o.ProxyID]
		rt.step.Dialer, rt.step.Proxy = pd.d, &pd.proxy
	case v.rotation != nil:
		// The Rotation itself, not one member: it fails over to another
		// proxy and rests failing ones, and the connection tells which
		// proxy served. A retry after a connection failure starts with
		// another proxy than the failed check's.
		rt.step.Dialer, rt.step.Rotating = v.rotation.Avoiding(req.AvoidProxy), true
	case v.cfg.AllowDirect:
		rt.step.Dialer = v.direct
	default:
		return route{}, &StepError{Type: ErrTypeAnyhow, Cause: CauseNoProxy, Message: ErrNoProxy.Error()}
	}
	return rt, nil
}

func providerName(p Provider) string {
	if p == Other {
		return "this provider"
	}
	return string(p)
}

// proxyInfo is the proxy's id as the result reports it (see
// SMTPVerifDetails), nil without a proxy. A proxy without an id is the
// default one.
func proxyInfo(p *dialer.Proxy) *string {
	if p == nil {
		return nil
	}
	if p.ID == "" {
		return ptr(DefaultProxyID)
	}
	return ptr(p.ID)
}

// DefaultProxyID names the top-level proxy, and a request's own proxy, as
// Reacher names them.
const DefaultProxyID = "default"

// smtpStep runs the SMTP step for one address and fills the smtp object,
// the debug details and the retry hint.
func (v *Verifier) smtpStep(ctx context.Context, res *Result, a address.Address, hosts []mx.Host, req Request) Step[SMTP] {
	rt, serr := v.plan(hosts, req)
	if serr != nil {
		return Failed[SMTP](serr)
	}
	smtpDebug(res, rt)
	ans := smtpstep.Run(ctx, v.step, rt.step, smtpstep.Domain{Name: a.Domain, Job: req.JobID,
		Addrs: []smtpstep.Address{{Addr: a.Address, UTF8: a.RequiresSMTPUTF8()}}})
	step, _ := report(res, rt, ans[0])
	return step
}

// smtpDebug fills the debug details of an SMTP check by route rt.
func smtpDebug(res *Result, rt route) {
	res.Debug.SMTP.VerifMethod = VerifMethod{Type: "Smtp", Host: rt.step.Hosts[0].Name, VerifMethod: &SMTPVerifDetails{
		FromEmail: rt.step.FromEmail, HelloName: rt.step.HelloName, Proxy: proxyInfo(rt.step.Proxy),
		SMTPPort: rt.step.Port, SMTPTimeout: ptr(DurationOf(rt.step.Timeout)), Retries: rt.retries,
	}}
	res.Debug.Mailprobe = &DebugExtra{Provider: string(rt.provider)}
}

// catchAllNames spell the step's catch-all answers in debug.mailprobe.
var catchAllNames = [...]string{
	smtpstep.CatchAllNone: "", smtpstep.CatchAllYes: CatchAllYes,
	smtpstep.CatchAllNo: CatchAllNo, smtpstep.CatchAllUnanswered: CatchAllUnanswered,
}

// report writes the step's answer about one address into res (retry hint,
// debug details) and returns the smtp object and whether the answer is
// final.
func report(res *Result, rt route, a smtpstep.Answer) (Step[SMTP], bool) {
	extra := res.Debug.Mailprobe
	extra.MXTried, extra.LastReply, extra.Sessions = a.MXTried, a.LastReply, a.Sessions
	extra.CatchAll = catchAllNames[a.CatchAll]
	res.Retry = nil
	if a.Retry != nil {
		res.Retry = &RetryHint{After: a.Retry.After, Reason: a.Retry.Reason, Kind: a.Retry.Kind,
			Stated: a.Retry.Stated, Waited: a.Waited, Until: a.Retry.Until}
		if a.Proxy != nil {
			res.Retry.Proxy = a.Proxy.Addr()
		}
		extra.RetryAfterS = int(a.Retry.After / time.Second)
	}
	if d := res.Debug.SMTP.VerifMethod.VerifMethod; d != nil && rt.step.Rotating {
		// A rotation chooses the proxy per connection: report the one
		// of the last session that connected, none when none did.
		d.Proxy = proxyInfo(a.Proxy)
	}
	if a.Failure != nil {
		f := *a.Failure
		e := &StepError{Type: f.Type, Message: f.Message, Description: f.Description,
			Cause: f.Cause, SessionWide: f.SessionWide}
		if f.Type == ErrTypeTimeout {
			e.Timeout = ptr(DurationOf(f.Allowed))
		}
		return Failed[SMTP](e), a.Final
	}
	return OK(SMTP{
		CanConnectSMTP: a.Facts.CanConnect, HasFullInbox: a.Facts.FullInbox, IsCatchAll: a.Facts.CatchAll,
		IsDeliverable: a.Facts.Deliverable, IsDisabled: a.Facts.Disabled,
	}), a.Final
}
