package proxies

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/internal/testenv/realsocks"
)

// failure is one way a dial through a real proxy fails, as the dialer
// classifies it and as the engine reports it in the result.
type failure struct {
	name   string
	proxy  *realsocks.Server
	user   string // credentials to dial with
	pass   string
	target string // ip:port
	kind   dialer.ProxyErrorKind
	stage  dialer.Stage
	reply  byte
	smtp   string // the result's smtp.error.type, one of Reacher's
	msg    string // in the result's message
}

// run dials once through the proxy, then probes an address whose MX is
// the target with `mailprobe check`, and checks both reports.
func (f failure) run(t *testing.T, w *world) {
	p := dialer.Proxy{ID: "url1", Host: f.proxy.Host, Port: f.proxy.Port, Username: f.user, Password: f.pass}
	d, err := dialer.NewSOCKS5(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", f.target)
	if err == nil {
		c.Close()
		t.Fatalf("dial through %s to %s succeeded", f.proxy.Name, f.target)
	}
	var pe *dialer.ProxyError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *dialer.ProxyError", err, err)
	}
	if pe.Kind != f.kind || pe.Stage != f.stage || pe.Reply != f.reply {
		t.Errorf("got %v at %v, reply %#x; want %v at %v, reply %#x (%v)", pe.Kind, pe.Stage, pe.Reply, f.kind, f.stage, f.reply, err)
	}
	if pe.ProxyID != "url1" || !strings.Contains(err.Error(), "proxy url1 (") {
		t.Errorf("error does not name the proxy url1: %v", err)
	}
	noSecret(t, err.Error(), f.proxy)

	// The same failure through the engine, as a user meets it.
	host, port := splitTarget(t, f.target)
	name := strings.ReplaceAll(f.name, " ", "-") + ".test"
	w.dns.AddMX(name+".", 10, "mx."+name+".")
	w.dns.AddA("mx."+name+".", host)
	u := *f.proxy
	u.User, u.Pass = f.user, f.pass
	rs := check(t, w.flags(port), u.URL(), "someone@"+name)
	e := rs[0].SMTP.Error
	cause := "proxy" // mailprobe's finer reason, beside Reacher's type
	if f.kind == dialer.ProxyAuth {
		cause = "proxy_auth"
	}
	if rs[0].IsReachable != "unknown" || e == nil || e.Type != f.smtp || rs[0].SMTP.Cause != cause ||
		!strings.Contains(e.Message, f.msg) || !strings.Contains(e.Message, "url1") {
		t.Errorf("result %s %+v (cause %q), want unknown with smtp error %s (cause %s) naming url1 and containing %q",
			rs[0].IsReachable, e, rs[0].SMTP.Cause, f.smtp, cause, f.msg)
	}
	if e != nil {
		noSecret(t, e.Message, f.proxy)
	}
}

func splitTarget(t *testing.T, target string) (string, int) {
	t.Helper()
	var host string
	var port int
	i := strings.LastIndexByte(target, ':')
	host = target[:i]
	if _, err := fmt.Sscan(target[i+1:], &port); err != nil {
		t.Fatal(err)
	}
	return host, port
}

// TestRealProxyErrors covers the failures met on loopback: credentials,
// a proxy that is down, a destination its rules refuse (port 25 blocked)
// and a closed port.
func TestRealProxyErrors(t *testing.T) {
	w := newWorld(t)
	blocked := mail(t, danteExit)
	ps := proxies(t, realsocks.DanteOptions{BlockPorts: []int{blocked.Port()}})
	down := realsocks.StartMicrosocks(t, realsocks.MicrosocksOptions{User: "mailprobe", Pass: "gone"})
	down.Stop(t)
	closed := fmt.Sprintf("127.0.0.1:%d", closedPort(t))

	var tests []failure
	// RFC 1929 §2: any status but X'00' is a failure; dante sends 1,
	// microsocks 2.
	authStatus := map[string]byte{"dante": 0x01, "microsocks": 0x02}
	for _, p := range ps {
		st := authStatus[p.Name]
		tests = append(tests,
			failure{name: p.Name + " wrong password", proxy: p, user: p.User, pass: "not-" + p.Pass, target: closed,
				kind: dialer.ProxyAuth, stage: dialer.StageAuth, reply: st, smtp: "Socks5", msg: fmt.Sprintf("proxy authentication failed (auth reply 0x%02x)", st)},
			failure{name: p.Name + " no credentials", proxy: p, target: closed,
				kind: dialer.ProxyAuth, stage: dialer.StageGreeting, reply: 0xFF, smtp: "Socks5", msg: "greeting reply 0xff"},
			failure{name: p.Name + " port closed", proxy: p, user: p.User, pass: p.Pass, target: closed,
				kind: dialer.TargetRefused, stage: dialer.StageConnect, reply: 0x05, smtp: "Socks5", msg: "target refused connection (connect reply 0x05)"},
		)
	}
	tests = append(tests,
		failure{name: "dante port 25 blocked", proxy: ps[0], user: ps[0].User, pass: ps[0].Pass, target: blocked.Addr(),
			kind: dialer.NotAllowed, stage: dialer.StageConnect, reply: 0x02, smtp: "Socks5", msg: "connection not allowed by proxy (connect reply 0x02)"},
		failure{name: "microsocks down", proxy: down, user: down.User, pass: down.Pass, target: closed,
			kind: dialer.ProxyUnreachable, stage: dialer.StageDial, smtp: "Socks5", msg: "proxy unreachable during dial"},
	)
	for _, f := range tests {
		t.Run(f.name, func(t *testing.T) { f.run(t, w) })
	}
	if blocked.Sessions() != 0 {
		t.Errorf("the blocked MX saw %d sessions, want 0", blocked.Sessions())
	}
}

// TestRealProxyConnectFailures runs dante and microsocks inside a network
// namespace whose routes make their connect fail each way, and checks the
// reply each sends and the engine's error for it.
func TestRealProxyConnectFailures(t *testing.T) {
	ns := realsocks.NewNetns(t)
	w := newWorld(t)
	ps := []*realsocks.Server{
		realsocks.StartDante(t, realsocks.DanteOptions{Netns: ns}),
		realsocks.StartMicrosocks(t, realsocks.MicrosocksOptions{User: "mailprobe", Pass: "micro:p@ss%w0rd", Netns: ns}),
	}
	cases := []struct {
		name   string
		target string
		kind   dialer.ProxyErrorKind
		reply  byte
		msg    string
	}{
		{"host unreachable", realsocks.HostUnreachable, dialer.TargetUnreachable, 0x04, "target unreachable (connect reply 0x04)"},
		{"network unreachable", realsocks.NetUnreachable, dialer.TargetUnreachable, 0x03, "target unreachable (connect reply 0x03)"},
		{"connection refused", realsocks.RefusedPort, dialer.TargetRefused, 0x05, "target refused connection (connect reply 0x05)"},
		{"TTL expired", realsocks.Silent, dialer.TTLExpired, 0x06, "TTL expired (connect reply 0x06)"},
		{"general failure", realsocks.Prohibited, dialer.ProxyFailure, 0x01, "proxy failure (connect reply 0x01)"},
	}
	for _, p := range ps {
		for _, c := range cases {
			f := failure{name: p.Name + " " + c.name, proxy: p, user: p.User, pass: p.Pass, target: c.target,
				kind: c.kind, stage: dialer.StageConnect, reply: c.reply, smtp: "Socks5", msg: c.msg}
			t.Run(f.name, func(t *testing.T) {
				t.Parallel()
				f.run(t, w)
			})
		}
	}
}
