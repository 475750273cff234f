package mta

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	testmta "github.com/mailprobe/mailprobe/internal/testenv/mta"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// Short waits keep the suite fast: servers on loopback answer in
// milliseconds, postgrey holds a triplet for 1 s and the engine waits 2 s
// before asking a greylisted address again.
const (
	smtpTimeout    = 5 * time.Second
	commandTimeout = 2 * time.Second
	greylistDelay  = time.Second
	greylistWait   = 2 * time.Second
)

// Sender and EHLO name a careful user configures. The Reacher defaults
// (hello@localhost, localhost) are not fully-qualified, and Postfix
// servers with reject_non_fqdn_* refuse them.
const (
	fqdnSender = "probe@mailprobe-tests.example"
	fqdnHello  = "probe.mailprobe-tests.example"
)

// world is the loopback "internet" of one test: addresses of its own, a
// DNS server that publishes the MX records, and an authenticating SOCKS5
// proxy that dials from an address no other client uses.
type world struct {
	lb    *testmta.Loopback
	dns   *dnstest.Server
	proxy *sockstest.Server
	src   string // the proxy's source address
}

func newWorld(t *testing.T) *world {
	t.Helper()
	lb := testmta.NewLoopback(t)
	src := lb.Addr()
	return &world{
		lb:    lb,
		dns:   dnstest.Start(t, nil),
		proxy: sockstest.Start(t, sockstest.Options{User: "probe", Pass: "s3cret", SourceIP: src}),
		src:   src.String(),
	}
}

// publish makes the server at addr the MX of each domain.
func (w *world) publish(addr netip.AddrPort, domains ...string) {
	for _, d := range domains {
		w.dns.AddMX(d+".", 10, "mx."+d+".")
		w.dns.AddA("mx."+d+".", addr.Addr().String())
	}
}

// verifier builds the engine as the CLI would, through the proxy, with
// the FQDN sender and the short test waits; mutate adjusts the config.
func (w *world) verifier(t *testing.T, mutate func(*engine.Config)) *engine.Verifier {
	t.Helper()
	res, err := mx.New(mx.Config{Servers: []string{w.dns.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dialer.ParseProxyURL(w.proxy.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{
		BackendName:    "mta-e2e",
		Resolver:       res,
		Proxies:        []dialer.Proxy{p},
		AllowPrivateMX: true,
		CommandTimeout: commandTimeout,
		GreylistWait:   greylistWait,
		Defaults: engine.SMTPSettings{
			FromEmail: fqdnSender, HelloName: fqdnHello, Port: w.lb.Port, Timeout: smtpTimeout,
		},
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

// reacherDefaults leaves the sender and EHLO name to the engine's
// defaults, which are Reacher's.
func reacherDefaults(c *engine.Config) { c.Defaults.FromEmail, c.Defaults.HelloName = "", "" }

func verify(t *testing.T, v *engine.Verifier, req engine.Request) engine.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := v.Verify(ctx, req)
	if err != nil {
		t.Fatalf("Verify(%s): %v", req.ToEmail, err)
	}
	return r
}

func verifyBatch(t *testing.T, v *engine.Verifier, emails ...string) []engine.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reqs := make([]engine.Request, len(emails))
	for i, e := range emails {
		reqs[i] = engine.Request{ToEmail: e}
	}
	rs, err := v.VerifyBatch(ctx, reqs)
	if err != nil {
		t.Fatalf("VerifyBatch: %v", err)
	}
	return rs
}

// clientLog is what the tests read from a server's log.
type clientLog interface{ Clients() []string }

// viaProxy checks that the server saw at least one connection and that
// every one came from the proxy's source address.
func (w *world) viaProxy(t *testing.T, s clientLog) {
	t.Helper()
	c := s.Clients()
	if len(c) == 0 {
		t.Errorf("the server logged no connection")
	}
	if i := slices.IndexFunc(c, func(ip string) bool { return ip != w.src }); i >= 0 {
		t.Errorf("connection %d came from %s, not through the proxy (%s): %v", i, c[i], w.src, c)
	}
}

// want is the part of a result a scenario checks.
type want struct {
	verdict  engine.Reachability
	catchAll bool
	full     bool
	disabled bool
	// cause, when set, is the error cause the smtp step must carry.
	cause engine.Cause
}

func check(t *testing.T, r engine.Result, w want) {
	t.Helper()
	s := r.SMTP.Value
	if r.IsReachable != w.verdict {
		t.Errorf("%s: is_reachable = %s, want %s (smtp error %+v, last reply %q)", r.Input, r.IsReachable, w.verdict, r.SMTP.Err, lastReply(r))
	}
	if r.SMTP.Err == nil && (s.IsCatchAll != w.catchAll || s.HasFullInbox != w.full || s.IsDisabled != w.disabled) {
		t.Errorf("%s: smtp = %+v, want catch-all %v, full %v, disabled %v", r.Input, s, w.catchAll, w.full, w.disabled)
	}
	if w.cause != "" {
		if r.SMTP.Err == nil || r.SMTP.Err.Cause != w.cause {
			t.Errorf("%s: smtp error %+v, want cause %s", r.Input, r.SMTP.Err, w.cause)
		}
	}
}

func lastReply(r engine.Result) string {
	if r.Debug.Mailprobe == nil {
		return ""
	}
	return r.Debug.Mailprobe.LastReply
}

func itoa(n int) string { return strconv.Itoa(n) }
