package engine_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// TestVerifyProxyRotationFailover puts a broken proxy first in the
// rotation, next to the working one: every address must still be checked,
// through the working proxy, and reported as served by it.
func TestVerifyProxyRotationFailover(t *testing.T) {
	tests := []struct {
		name string
		bad  func(t *testing.T) (dialer.Proxy, *sockstest.Server)
	}{
		{"dead proxy", func(t *testing.T) (dialer.Proxy, *sockstest.Server) {
			s := sockstest.Start(t, sockstest.Options{})
			s.SetDown(true)
			return mustProxy(t, s.URL()), s
		}},
		{"wrong password", func(t *testing.T) (dialer.Proxy, *sockstest.Server) {
			s := sockstest.Start(t, sockstest.Options{User: "probe", Pass: "other"})
			p := mustProxy(t, s.URL())
			p.Password = "wrong"
			return p, s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := e.mailServer(t, "rotate.test", smtptest.Options{Users: users("rotate.test", "a", ok250, "b", ok250, "c", ok250)})
			bad, badSrv := tt.bad(t)
			v := e.verifier(t, func(c *engine.Config) { c.Proxies = append([]dialer.Proxy{bad}, c.Proxies...) })
			var got []engine.Result
			for _, m := range emails("rotate.test", "a", "b", "c", "a", "b", "c") {
				got = append(got, verify(t, v, m, srv.Port()))
			}
			var reqs []engine.Request
			for _, m := range emails("rotate.test", "a", "b", "c") {
				reqs = append(reqs, engine.Request{ToEmail: m, SMTPPort: srv.Port()})
			}
			batch, err := v.VerifyBatch(context.Background(), reqs)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range append(got, batch...) {
				if r.IsReachable != engine.Safe {
					t.Errorf("%s: %s %+v, want safe through the working proxy", r.Input, r.IsReachable, r.SMTP.Err)
				}
				p := r.Debug.SMTP.VerifMethod.VerifMethod.Proxy
				if p == nil || *p != "url1" {
					t.Errorf("%s: debug proxy %v, want url1, the id of the one that served", r.Input, p)
				}
			}
			if n := badSrv.Accepted(); n > 1 {
				t.Errorf("the broken proxy served %d clients, want at most 1 (cooldown)", n)
			}
			if srv.Refused() != 0 {
				t.Errorf("%d connections did not come through the working proxy", srv.Refused())
			}
		})
	}
}

func mustProxy(t testing.TB, url string) dialer.Proxy {
	t.Helper()
	p, err := dialer.ParseProxyURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// refuse10 stands in for dialer.CheckAddr: it refuses 10.0.0.0/8 only,
// so a loopback test server stays reachable with AllowPrivateMX off.
func refuse10(ip netip.Addr) error {
	if netip.MustParsePrefix("10.0.0.0/8").Contains(ip) {
		return fmt.Errorf("address %s: %w", ip, dialer.ErrPrivateAddress)
	}
	return nil
}

// TestVerifyPrivateMXSkipped checks that an MX host on a private address
// is passed over for the next one, never dialled, and decides the result
// only when every host was refused.
func TestVerifyPrivateMXSkipped(t *testing.T) {
	e := newEnv(t)
	srv := smtptest.Start(t, smtptest.Options{Source: proxySource, Users: users("split.test", "ann", ok250)})
	e.dns.AddMX("split.test.", 5, "internal.split.test.")
	e.dns.AddMX("split.test.", 10, "public.split.test.")
	e.dns.AddA("internal.split.test.", "10.0.0.1")
	e.dns.AddA("public.split.test.", srv.Host())
	e.dns.AddMX("inside.test.", 5, "a.inside.test.")
	e.dns.AddMX("inside.test.", 10, "b.inside.test.")
	e.dns.AddA("a.inside.test.", "10.0.0.2")
	e.dns.AddA("b.inside.test.", "10.0.0.3")
	e.dns.AddMX("halfdown.test.", 5, "a.halfdown.test.")
	e.dns.AddMX("halfdown.test.", 10, "b.halfdown.test.")
	e.dns.AddA("a.halfdown.test.", "10.0.0.4")
	e.dns.AddA("b.halfdown.test.", "127.0.0.3") // nothing listens there
	v := e.verifier(t, func(c *engine.Config) { c.AllowPrivateMX, c.CheckAddr = false, refuse10 })

	tests := []struct {
		email   string
		retries int
		want    engine.Reachability
		errType string
		retry   bool
	}{
		{email: "ann@split.test", want: engine.Safe},
		{email: "bob@split.test", retries: 1, want: engine.Invalid},
		{email: "x@inside.test", want: engine.Unknown, errType: "AnyhowError/private_address"},
		{email: "x@inside.test", retries: 2, want: engine.Unknown, errType: "AnyhowError/private_address"},
		// The reachable host's failure, not the private one's, is the
		// answer, however many rounds the retries make.
		{email: "x@halfdown.test", retries: 1, want: engine.Unknown, errType: "Socks5/proxy", retry: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s retries=%d", tt.email, tt.retries), func(t *testing.T) {
			req := engine.Request{ToEmail: tt.email, SMTPPort: srv.Port(), Retries: &tt.retries}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			one, err := v.Verify(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			batch, err := v.VerifyBatch(ctx, []engine.Request{req, req})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range append([]engine.Result{one}, batch...) {
				if r.IsReachable != tt.want || errType(r.SMTP) != tt.errType || (r.Retry != nil) != tt.retry {
					t.Errorf("got %s %+v retry %v, want %s %q retry=%v", r.IsReachable, r.SMTP.Err, r.Retry, tt.want, tt.errType, tt.retry)
				}
			}
			// A batch may conclude an address from another's sessions;
			// Verify's own tries show the walk over the hosts.
			if tried := one.Debug.Mailprobe.MXTried; len(tried) < 2 {
				t.Errorf("MX tried = %v, want both hosts", tried)
			}
		})
	}
	for _, target := range e.proxy.Targets() {
		if strings.HasPrefix(target, "10.") {
			t.Errorf("the proxy was asked to connect to private address %s", target)
		}
	}
}

// TestVerifyOverrideRetries checks that a provider override's retries
// replace the default, with Reacher's meaning: the number of connections
// (0 and 1 both one). A server that hangs up after its banner is asked
// once per connection.
func TestVerifyOverrideRetries(t *testing.T) {
	e := newEnv(t)
	srv := smtptest.Start(t, smtptest.Options{Source: proxySource, DropAfterBanner: true})
	e.dns.AddMX("workspace.test.", 1, "aspmx.l.google.com.") // a Gmail MX: provider gmail
	e.dns.AddA("aspmx.l.google.com.", srv.Host())
	tests := []struct {
		name     string
		override *int
		sessions int
	}{
		{"inherit the default of 1", nil, 1},
		{"zero means one connection", ptr(0), 1},
		{"two", ptr(2), 2},
		{"three", ptr(3), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := e.verifier(t, func(c *engine.Config) {
				c.Defaults.Retries = 1
				c.Overrides = map[engine.Provider]engine.Override{engine.Gmail: {Retries: tt.override}}
			})
			before := srv.Sessions()
			r := verify(t, v, "x@workspace.test", srv.Port())
			if got := srv.Sessions() - before; got != tt.sessions {
				t.Errorf("%d sessions, want %d", got, tt.sessions)
			}
			want := 1
			if tt.override != nil {
				want = *tt.override
			}
			if got := r.Debug.SMTP.VerifMethod.VerifMethod.Retries; got != want {
				t.Errorf("debug retries = %d, want %d", got, want)
			}
		})
	}
	t.Run("negative is refused", func(t *testing.T) {
		res, err := mx.New(mx.Config{Servers: []string{e.dns.Addr}})
		if err != nil {
			t.Fatal(err)
		}
		cfg := engine.Config{Resolver: res, Overrides: map[engine.Provider]engine.Override{engine.Yahoo: {Retries: ptr(-1)}}}
		if _, err := engine.New(cfg); err == nil {
			t.Error("New accepted negative override retries")
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestRequestProxyGuarded: a proxy named in a request (an API client's
// choice) passes the SSRF guard that MX hosts pass, at connect time: on a
// refused address it is never dialled and the check fails with the
// private_address cause. With private addresses allowed (tests, private
// networks) it is used.
func TestRequestProxyGuarded(t *testing.T) {
	e := newEnv(t)
	srv := smtptest.Start(t, smtptest.Options{Addr: "127.0.0.2:0", CatchAll: true})
	e.dns.AddMX("viaproxy.test.", 10, "mx.viaproxy.test.")
	e.dns.AddA("mx.viaproxy.test.", srv.Host())
	reqProxy := sockstest.Start(t, sockstest.Options{User: "client", Pass: "pw"})
	refuseProxyIP := func(ip netip.Addr) error {
		if ip == netip.MustParseAddr(reqProxy.Host) {
			return fmt.Errorf("address %s: %w", ip, dialer.ErrPrivateAddress)
		}
		return nil
	}
	req := engine.Request{ToEmail: "x@viaproxy.test", SMTPPort: srv.Port(),
		Proxy: &engine.RequestProxy{Host: reqProxy.Host, Port: reqProxy.Port, Username: "client", Password: "pw"}}

	guarded := e.verifier(t, func(c *engine.Config) { c.AllowPrivateMX, c.CheckAddr = false, refuseProxyIP })
	r, err := guarded.Verify(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := errType(r.SMTP); got != "AnyhowError/private_address" || r.IsReachable != engine.Unknown {
		t.Errorf("guarded: got %s %s %+v, want unknown AnyhowError/private_address", r.IsReachable, got, r.SMTP.Err)
	}
	if n := reqProxy.Accepted(); n != 0 {
		t.Errorf("the request's proxy on a refused address was dialled %d times", n)
	}

	open := e.verifier(t, nil) // AllowPrivateMX
	r, err = open.Verify(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r.IsReachable != engine.Risky || reqProxy.Accepted() != 1 {
		t.Errorf("allowed: got %s %+v, %d connections to the request's proxy, want risky (catch-all) through it",
			r.IsReachable, r.SMTP.Err, reqProxy.Accepted())
	}
	if p := r.Debug.SMTP.VerifMethod.VerifMethod; p == nil || p.Proxy == nil || *p.Proxy != "default" {
		t.Errorf("debug proxy %+v, want the id Reacher gives a request's proxy, default", p)
	}
}
