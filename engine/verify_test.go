package engine_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/misc"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// proxySource is the address the test proxy dials from, so mail servers
// can refuse anything that did not come through it.
const proxySource = "127.0.0.9"

type env struct {
	dns   *dnstest.Server
	proxy *sockstest.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return &env{
		dns:   dnstest.Start(t, nil),
		proxy: sockstest.Start(t, sockstest.Options{User: "probe", Pass: "s3cret", SourceIP: netip.MustParseAddr(proxySource)}),
	}
}

func (e *env) verifier(t testing.TB, mutate func(*engine.Config)) *engine.Verifier {
	t.Helper()
	res, err := mx.New(mx.Config{Servers: []string{e.dns.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dialer.ParseProxyURL(e.proxy.URL())
	if err != nil {
		t.Fatal(err)
	}
	p.ID = "url1"
	cfg := engine.Config{
		BackendName:    "test",
		Resolver:       res,
		Proxies:        []dialer.Proxy{p},
		AllowPrivateMX: true,
		DomainBackoff:  20 * time.Millisecond,
		Defaults:       engine.SMTPSettings{Timeout: 5 * time.Second, FromEmail: "probe@mailprobe.test", HelloName: "mailprobe.test"},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mailServer starts an SMTP server that accepts only connections from the
// proxy and publishes it as the MX of domain.
func (e *env) mailServer(t testing.TB, domain string, o smtptest.Options) *smtptest.Server {
	t.Helper()
	o.Source = proxySource
	s := smtptest.Start(t, o)
	e.dns.AddMX(domain+".", 10, "mx."+domain+".")
	e.dns.AddA("mx."+domain+".", s.Host())
	return s
}

func verify(t testing.TB, v *engine.Verifier, email string, port int) engine.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := v.Verify(ctx, engine.Request{ToEmail: email, SMTPPort: port})
	if err != nil {
		t.Fatalf("Verify(%s): %v", email, err)
	}
	return r
}

// errType is "<Reacher type>/<mailprobe cause>" of a failed step.
func errType[T any](s engine.Step[T]) string {
	if s.Err == nil {
		return ""
	}
	return s.Err.Type + "/" + string(s.Err.Cause)
}

func TestVerifyScenarios(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		server  smtptest.Options
		email   string
		want    engine.Reachability
		smtp    engine.SMTP
		errType string
		desc    string
		retry   bool
	}{
		{name: "existing user", email: "alice@exists.test",
			server: smtptest.Options{Users: map[string]string{"alice@exists.test": "250 2.1.5 OK"}},
			want:   engine.Safe, smtp: engine.SMTP{CanConnectSMTP: true, IsDeliverable: true}},
		{name: "unknown user", email: "nobody@unknown.test", server: smtptest.Options{},
			want: engine.Invalid, smtp: engine.SMTP{CanConnectSMTP: true}},
		{name: "catch-all", email: "anyone@catchall.test", server: smtptest.Options{CatchAll: true},
			want: engine.Risky, smtp: engine.SMTP{CanConnectSMTP: true, IsDeliverable: true, IsCatchAll: true}},
		{name: "full inbox 552", email: "full@full552.test",
			server: smtptest.Options{Users: map[string]string{"full@full552.test": "552 5.2.2 mailbox full"}},
			want:   engine.Risky, smtp: engine.SMTP{CanConnectSMTP: true, HasFullInbox: true}},
		{name: "full inbox 452", email: "full@full452.test",
			server: smtptest.Options{Users: map[string]string{"full@full452.test": "452 4.2.2 over quota"}},
			want:   engine.Risky, smtp: engine.SMTP{CanConnectSMTP: true, HasFullInbox: true}},
		{name: "disabled", email: "gone@disabled.test",
			server: smtptest.Options{Users: map[string]string{"gone@disabled.test": "550 5.2.1 mailbox disabled"}},
			want:   engine.Invalid, smtp: engine.SMTP{CanConnectSMTP: true, IsDisabled: true}},
		{name: "role account rejected is invalid", email: "admin@role.test", server: smtptest.Options{},
			want: engine.Invalid, smtp: engine.SMTP{CanConnectSMTP: true}},
		{name: "role account accepted is risky", email: "admin@roleok.test",
			server: smtptest.Options{Users: map[string]string{"admin@roleok.test": "250 OK"}},
			want:   engine.Risky, smtp: engine.SMTP{CanConnectSMTP: true, IsDeliverable: true}},
		{name: "greylisted", email: "grey@grey.test", server: smtptest.Options{Greylist: 100, CatchAll: true},
			want: engine.Unknown, errType: "AsyncSmtpError/greylisted", retry: true},
		{name: "blocklisted", email: "x@blocked.test",
			server: smtptest.Options{Users: map[string]string{"x@blocked.test": "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"}},
			want:   engine.Unknown, errType: "AsyncSmtpError/blocked", desc: "IpBlacklisted"},
		{name: "policy refusal without block-list words", email: "x@policy.test",
			server: smtptest.Options{Users: map[string]string{"x@policy.test": "550 5.7.1 Message rejected due to local policy"}},
			want:   engine.Unknown, errType: "AsyncSmtpError/policy", desc: "IpBlacklisted"},
		{name: "bad mailbox syntax 5.1.3", email: "x@syntax513.test",
			server: smtptest.Options{Users: map[string]string{"x@syntax513.test": "553 5.1.3 Bad destination mailbox address syntax"}},
			want:   engine.Invalid, smtp: engine.SMTP{CanConnectSMTP: true}},
		{name: "banner refusal", email: "x@banner554.test", server: smtptest.Options{Banner: "554 5.7.1 your IP is on a block list"},
			want: engine.Unknown, errType: "AsyncSmtpError/blocked", desc: "IpBlacklisted"},
		{name: "EHLO refused then HELO", email: "bob@helo.test",
			server: smtptest.Options{EHLOReject: true, Users: map[string]string{"bob@helo.test": "250 OK"}},
			want:   engine.Safe, smtp: engine.SMTP{CanConnectSMTP: true, IsDeliverable: true}},
		{name: "multi-line replies", email: "carol@multi.test",
			server: smtptest.Options{Banner: "220-mx.multi.test ESMTP\n220-welcome\n220 ready",
				Users: map[string]string{"carol@multi.test": "250-2.1.5 OK\n250 2.1.5 recipient ok"}},
			want: engine.Safe, smtp: engine.SMTP{CanConnectSMTP: true, IsDeliverable: true}},
		{name: "dropped after banner", email: "x@drop.test", server: smtptest.Options{DropAfterBanner: true},
			want: engine.Unknown, errType: "IOError/connection", retry: true},
		{name: "second RCPT refused keeps the real answer", email: "dave@outlook-like.test",
			server: smtptest.Options{MaxRecipients: 1, Users: map[string]string{"dave@outlook-like.test": "250 OK"}},
			want:   engine.Safe, smtp: engine.SMTP{CanConnectSMTP: true, IsDeliverable: true}},
	}
	v := e.verifier(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			domain := tt.email[strings.IndexByte(tt.email, '@')+1:]
			srv := e.mailServer(t, domain, tt.server)
			r := verify(t, v, tt.email, srv.Port())
			if r.IsReachable != tt.want {
				t.Errorf("is_reachable = %s, want %s (smtp %+v %+v)", r.IsReachable, tt.want, r.SMTP.Value, r.SMTP.Err)
			}
			if got := errType(r.SMTP); got != tt.errType {
				t.Errorf("smtp error type = %q, want %q (%+v)", got, tt.errType, r.SMTP.Err)
			}
			if tt.errType == "" && r.SMTP.Value != tt.smtp {
				t.Errorf("smtp = %+v, want %+v", r.SMTP.Value, tt.smtp)
			}
			if tt.desc != "" && (r.SMTP.Err == nil || r.SMTP.Err.Description != tt.desc) {
				t.Errorf("description = %+v, want %q", r.SMTP.Err, tt.desc)
			}
			if (r.Retry != nil) != tt.retry {
				t.Errorf("retry hint = %+v, want present=%v", r.Retry, tt.retry)
			}
			if srv.Refused() != 0 {
				t.Errorf("the mail server saw %d connections that did not come through the proxy", srv.Refused())
			}
		})
	}
}

func TestVerifyDNSOutcomes(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(t, nil)
	srv := e.mailServer(t, "implicit-host.test", smtptest.Options{CatchAll: true})
	e.dns.Remove("implicit-host.test.")
	e.dns.AddA("implicit.test.", srv.Host())
	e.dns.AddRR(dnstest.RR(t, "nullmx.test. 300 IN MX 0 ."))

	r := verify(t, v, "x@nullmx.test", 25)
	if r.IsReachable != engine.Invalid || r.MX.Value.AcceptsMail {
		t.Errorf("null MX: %s accepts_mail=%v, want invalid false", r.IsReachable, r.MX.Value.AcceptsMail)
	}
	r = verify(t, v, "x@does-not-exist.test", 25)
	if r.IsReachable != engine.Invalid || r.MX.Err != nil {
		t.Errorf("NXDOMAIN: %s %+v, want invalid without error", r.IsReachable, r.MX.Err)
	}
	if r.Syntax.Suggestion != nil {
		t.Errorf("suggestion %q for a domain close to no provider", *r.Syntax.Suggestion)
	}
	r = verify(t, v, "someone@gmial.com", 25)
	if r.Syntax.Suggestion == nil || *r.Syntax.Suggestion != "someone@gmail.com" {
		t.Errorf("suggestion = %v, want someone@gmail.com", r.Syntax.Suggestion)
	}
	r = verify(t, v, "x@implicit.test", srv.Port())
	if got := r.MX.Value.Records; len(got) != 1 || got[0] != "implicit.test." {
		t.Errorf("implicit MX records = %v", got)
	}
	if r.IsReachable != engine.Risky {
		t.Errorf("implicit MX catch-all: %s, want risky", r.IsReachable)
	}
	e.dns.SetRcode("servfail.test.", 2)
	r = verify(t, v, "x@servfail.test", 25)
	if r.IsReachable != engine.Unknown || errType(r.MX) != "ResolveError/dns" {
		t.Errorf("SERVFAIL: %s %+v, want unknown ResolveError", r.IsReachable, r.MX.Err)
	}
	r = verify(t, v, "not an address", 25)
	if r.IsReachable != engine.Invalid || r.Syntax.IsValidSyntax {
		t.Errorf("bad syntax: %s", r.IsReachable)
	}
	if e.dns.QueriesFor("an address.", 15) != 0 {
		t.Error("invalid syntax caused a DNS query")
	}
}

func TestVerifyMXFailover(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(t, nil)
	srv := smtptest.Start(t, smtptest.Options{Addr: "127.0.0.2:0", Source: proxySource, Users: map[string]string{"erin@failover.test": "250 OK"}})
	e.dns.AddMX("failover.test.", 5, "dead.failover.test.")
	e.dns.AddMX("failover.test.", 10, "live.failover.test.")
	e.dns.AddA("dead.failover.test.", "127.0.0.3") // nothing listens there
	e.dns.AddA("live.failover.test.", srv.Host())
	r := verify(t, v, "erin@failover.test", srv.Port())
	if r.IsReachable != engine.Safe {
		t.Fatalf("is_reachable = %s, want safe (%+v)", r.IsReachable, r.SMTP.Err)
	}
	if got := r.Debug.Mailprobe.MXTried; len(got) != 2 {
		t.Errorf("MX tried = %v, want both", got)
	}
}

func TestVerifyTarpitBoundedByTimeout(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(t, func(c *engine.Config) { c.Defaults.Timeout = 300 * time.Millisecond })
	srv := e.mailServer(t, "tarpit.test", smtptest.Options{NoBanner: true})
	r := verify(t, v, "x@tarpit.test", srv.Port())
	if r.IsReachable != engine.Unknown || errType(r.SMTP) != "Timeout/timeout" {
		t.Errorf("tarpit: %s %+v, want unknown Timeout", r.IsReachable, r.SMTP.Err)
	}
}

func TestVerifyProxyErrors(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "proxied.test", smtptest.Options{CatchAll: true})
	t.Run("wrong password", func(t *testing.T) {
		v := e.verifier(t, func(c *engine.Config) { c.Proxies[0].Password = "wrong" })
		r := verify(t, v, "x@proxied.test", srv.Port())
		if errType(r.SMTP) != "Socks5/proxy_auth" || r.IsReachable != engine.Unknown {
			t.Errorf("got %s %+v, want unknown ProxyAuth", r.IsReachable, r.SMTP.Err)
		}
		if strings.Contains(r.SMTP.Err.Message, "wrong") {
			t.Errorf("the error message leaks the password: %q", r.SMTP.Err.Message)
		}
	})
	t.Run("no proxy, no direct", func(t *testing.T) {
		v := e.verifier(t, func(c *engine.Config) { c.Proxies = nil })
		r := verify(t, v, "x@proxied.test", srv.Port())
		if errType(r.SMTP) != "AnyhowError/no_proxy" || !r.MX.Value.AcceptsMail {
			t.Errorf("got %+v, want NoProxy with the MX still reported", r.SMTP.Err)
		}
		if srv.Sessions() != 0 {
			t.Errorf("an SMTP session was opened without a proxy")
		}
	})
	t.Run("private MX refused without the flag", func(t *testing.T) {
		v := e.verifier(t, func(c *engine.Config) { c.AllowPrivateMX = false })
		r := verify(t, v, "x@proxied.test", srv.Port())
		if errType(r.SMTP) != "AnyhowError/private_address" {
			t.Errorf("got %+v, want PrivateAddress", r.SMTP.Err)
		}
		if srv.Sessions() != 0 {
			t.Errorf("an SMTP session reached a private address")
		}
	})
}

// TestVerifyOnlyThroughProxy proves no SMTP connection reaches a server
// except through the proxy: the server refuses any other source address,
// and the proxy counts one CONNECT per session the server saw.
func TestVerifyOnlyThroughProxy(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(t, nil)
	srv := e.mailServer(t, "onlyproxy.test", smtptest.Options{CatchAll: true})
	for i := 0; i < 3; i++ {
		verify(t, v, "x@onlyproxy.test", srv.Port())
	}
	if srv.Refused() != 0 || srv.Sessions() != 3 || e.proxy.Connections() != 3 {
		t.Errorf("sessions=%d refused=%d proxy connections=%d, want 3/0/3", srv.Sessions(), srv.Refused(), e.proxy.Connections())
	}
}

func TestVerifyResultJSONShape(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(t, nil)
	srv := e.mailServer(t, "shape.test", smtptest.Options{Users: map[string]string{"ok@shape.test": "250 OK"}})
	r := verify(t, v, "ok@shape.test", srv.Port())
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	want := "input,is_reachable,misc,mx,smtp,syntax,debug"
	if strings.Join(keys, ",") != want {
		t.Errorf("keys = %v, want %s", keys, want)
	}
	if strings.Contains(string(b), "s3cret") {
		t.Error("the result JSON contains the proxy password")
	}
}

func TestVerifyGravatar(t *testing.T) {
	e := newEnv(t)
	hits := 0
	gr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Write([]byte("png"))
	}))
	defer gr.Close()
	v := e.verifier(t, func(c *engine.Config) { c.Gravatar = misc.NewGravatar(gr.Client(), gr.URL) })
	srv := e.mailServer(t, "gravatar.test", smtptest.Options{CatchAll: true})

	r := verify(t, v, "x@gravatar.test", srv.Port())
	if r.Misc.Value.GravatarURL != nil || hits != 0 {
		t.Errorf("gravatar looked up without check_gravatar: %v, %d requests", r.Misc.Value.GravatarURL, hits)
	}
	r, err := v.Verify(context.Background(), engine.Request{ToEmail: "x@gravatar.test", SMTPPort: srv.Port(), CheckGravatar: true})
	if err != nil {
		t.Fatal(err)
	}
	if u := r.Misc.Value.GravatarURL; u == nil || !strings.HasPrefix(*u, gr.URL+"/avatar/") {
		t.Errorf("gravatar_url = %v, want an image URL on the test server", u)
	}
}
