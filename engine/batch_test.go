package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

const ok250 = "250 2.1.5 OK"

// corpusDomain is one mail server of the equivalence corpus and the
// addresses asked of it. drop > 0 makes it a dropServer that ends every
// session after that many commands.
type corpusDomain struct {
	domain    string
	server    smtptest.Options
	drop      int
	dropUsers map[string]string
	emails    []string
}

func emails(domain string, locals ...string) []string {
	out := make([]string, len(locals))
	for i, l := range locals {
		out[i] = l + "@" + domain
	}
	return out
}

func users(domain string, kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]+"@"+domain] = kv[i+1]
	}
	return m
}

// corpus holds the rows of TestVerifyScenarios, with several addresses
// per domain, and the servers that make batches hard: a transaction
// limit of one (Outlook-like) and of three, servers that drop the
// connection after a few commands, pipelining, SMTPUTF8, gmail.com (no
// catch-all probe) and an MX host that is down. (A 421 defers the whole
// domain, so a batch and single checks differ there by design: see
// domain_test.go.)
func corpus() []corpusDomain {
	return []corpusDomain{
		{domain: "exists.test", server: smtptest.Options{Users: users("exists.test", "alice", ok250, "bob", "250 OK", "carol", "550 5.1.1 user unknown")},
			emails: emails("exists.test", "alice", "bob", "carol", "nobody", "Alice", "alice")},
		{domain: "unknown.test", emails: emails("unknown.test", "nobody", "nobody2", "nobody3")},
		{domain: "catchall.test", server: smtptest.Options{CatchAll: true}, emails: emails("catchall.test", "anyone", "someone", "x", "y")},
		{domain: "full552.test", server: smtptest.Options{Users: users("full552.test", "full", "552 5.2.2 mailbox full", "ok", ok250)},
			emails: emails("full552.test", "full", "ok", "nobody")},
		{domain: "full452.test", server: smtptest.Options{Users: users("full452.test", "full", "452 4.2.2 over quota", "ok", ok250)},
			emails: emails("full452.test", "full", "ok")},
		{domain: "disabled.test", server: smtptest.Options{Users: users("disabled.test", "gone", "550 5.2.1 mailbox disabled", "ok", ok250)},
			emails: emails("disabled.test", "gone", "ok")},
		{domain: "role.test", emails: emails("role.test", "admin", "info")},
		{domain: "roleok.test", server: smtptest.Options{Users: users("roleok.test", "admin", "250 OK", "support", "250 OK")},
			emails: emails("roleok.test", "admin", "support", "jane")},
		{domain: "grey.test", server: smtptest.Options{Greylist: 100, CatchAll: true}, emails: emails("grey.test", "grey", "grey2", "grey3")},
		{domain: "blocked.test", server: smtptest.Options{Users: users("blocked.test",
			"x", "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org", "y", ok250)},
			emails: emails("blocked.test", "x", "y")},
		{domain: "banner554.test", server: smtptest.Options{Banner: "554 5.7.1 your IP is on a block list"},
			emails: emails("banner554.test", "x", "y", "z")},
		{domain: "helo.test", server: smtptest.Options{EHLOReject: true, Users: users("helo.test", "bob", "250 OK")},
			emails: emails("helo.test", "bob", "eve")},
		{domain: "multi.test", server: smtptest.Options{Banner: "220-mx.multi.test ESMTP\n220-welcome\n220 ready",
			Users: users("multi.test", "carol", "250-2.1.5 OK\n250 2.1.5 recipient ok")},
			emails: emails("multi.test", "carol", "dan")},
		{domain: "drop.test", server: smtptest.Options{DropAfterBanner: true}, emails: emails("drop.test", "x", "y")},
		{domain: "outlook-like.test", server: smtptest.Options{MaxRecipients: 1, Users: users("outlook-like.test", "dave", "250 OK", "erin", ok250)},
			emails: emails("outlook-like.test", "dave", "erin", "frank", "gina")},
		{domain: "outlook-catchall.test", server: smtptest.Options{MaxRecipients: 1, CatchAll: true},
			emails: emails("outlook-catchall.test", "a", "b", "c")},
		{domain: "limit3.test", server: smtptest.Options{MaxRecipients: 3, CatchAll: true},
			emails: emails("limit3.test", "a", "b", "c", "d", "e", "f", "g")},
		{domain: "pipelined.test", server: smtptest.Options{Pipelining: true,
			Users: users("pipelined.test", "p1", ok250, "p3", ok250, "p5", "452 4.2.2 over quota", "p7", ok250)},
			emails: emails("pipelined.test", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8")},
		{domain: "cmdlimit.test", drop: 5, dropUsers: users("cmdlimit.test", "u1", ok250, "u3", ok250, "u4", ok250),
			emails: emails("cmdlimit.test", "u1", "u2", "u3", "u4", "u5", "u6")},
		{domain: "cmdlimit-pipe.test", drop: -4, dropUsers: users("cmdlimit-pipe.test", "u2", ok250, "u5", ok250),
			emails: emails("cmdlimit-pipe.test", "u1", "u2", "u3", "u4", "u5")},
		{domain: "gmail.com", server: smtptest.Options{CatchAll: true}, emails: emails("gmail.com", "someone", "other")},
		{domain: "utf8.test", server: smtptest.Options{SMTPUTF8: true, Users: users("utf8.test", "jörg", ok250, "ann", ok250)},
			emails: emails("utf8.test", "jörg", "ann", "bo", "zoë")},
		{domain: "noutf8.test", server: smtptest.Options{Users: users("noutf8.test", "ann", ok250)},
			emails: emails("noutf8.test", "jörg", "ann")},
		{domain: "failover.test", server: smtptest.Options{Users: users("failover.test", "erin", "250 OK")},
			emails: emails("failover.test", "erin", "frank")},
	}
}

// startCorpus starts the corpus's servers behind e's DNS and returns the
// requests, the smtptest servers by domain and the drop servers.
func startCorpus(t *testing.T, e *env) ([]engine.Request, map[string]*smtptest.Server, []*dropServer) {
	t.Helper()
	var reqs []engine.Request
	servers := map[string]*smtptest.Server{}
	var drops []*dropServer
	for _, d := range corpus() {
		var port int
		switch {
		case d.drop != 0:
			s := startDropServer(t, max(d.drop, -d.drop), d.drop < 0, d.dropUsers)
			e.dns.AddMX(d.domain+".", 10, "mx."+d.domain+".")
			e.dns.AddA("mx."+d.domain+".", s.Host())
			port, drops = s.Port(), append(drops, s)
		case d.domain == "failover.test":
			s := smtptest.Start(t, smtptest.Options{Addr: "127.0.0.2:0", Source: proxySource, Users: d.server.Users})
			e.dns.AddMX(d.domain+".", 5, "dead."+d.domain+".")
			e.dns.AddMX(d.domain+".", 10, "live."+d.domain+".")
			e.dns.AddA("dead."+d.domain+".", "127.0.0.3") // nothing listens there
			e.dns.AddA("live."+d.domain+".", s.Host())
			port, servers[d.domain] = s.Port(), s
		default:
			s := e.mailServer(t, d.domain, d.server)
			port, servers[d.domain] = s.Port(), s
		}
		for _, m := range d.emails {
			reqs = append(reqs, engine.Request{ToEmail: m, SMTPPort: port})
		}
	}
	e.dns.AddRR(dnstest.RR(t, "nullmx.test. 300 IN MX 0 ."))
	for _, m := range []string{"not an address", "x@does-not-exist.test", "x@nullmx.test", "someone@gmial.com"} {
		reqs = append(reqs, engine.Request{ToEmail: m, SMTPPort: 25})
	}
	return reqs, servers, drops
}

// comparable drops what may differ between Verify and VerifyBatch: debug
// timings and mailprobe's session and MX host accounting.
func comparable(r engine.Result) engine.Result {
	r.Debug.StartTime, r.Debug.EndTime, r.Debug.Duration = time.Time{}, time.Time{}, engine.Duration{}
	if r.Debug.Mailprobe != nil {
		x := *r.Debug.Mailprobe
		x.Sessions, x.MXTried = 0, nil
		r.Debug.Mailprobe = &x
	}
	if r.Retry != nil {
		h := *r.Retry
		h.Waited = 0
		r.Retry = &h
	}
	return r
}

func dump(r engine.Result) string {
	b, _ := json.Marshal(r)
	return string(b) + " retry=" + func() string {
		if r.Retry == nil {
			return "nil"
		}
		return r.Retry.Reason + " " + r.Retry.After.String()
	}()
}

func sessionsOf(servers map[string]*smtptest.Server, drops []*dropServer) int {
	n := 0
	for _, s := range servers {
		n += s.Sessions()
	}
	for _, d := range drops {
		n += d.Sessions()
	}
	return n
}

// TestVerifyBatchMatchesVerify runs the whole corpus address by address
// with Verify and at once with VerifyBatch, under several batch settings,
// and requires the same results field by field.
func TestVerifyBatchMatchesVerify(t *testing.T) {
	e := newEnv(t)
	reqs, servers, drops := startCorpus(t, e)
	configs := []struct {
		name   string
		mutate func(*engine.Config)
	}{
		{"defaults", nil},
		{"three per session", func(c *engine.Config) { c.MaxRecipientsPerSession = 3 }},
		{"no pipelining, one worker", func(c *engine.Config) { c.DisablePipelining, c.SessionsPerDomain = true, 1 }},
		{"retries", func(c *engine.Config) { c.Defaults.Retries = 1 }},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			v := e.verifier(t, cfg.mutate)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			before := sessionsOf(servers, drops)
			want := make([]engine.Result, len(reqs))
			for i, r := range reqs {
				var err error
				if want[i], err = v.Verify(ctx, r); err != nil {
					t.Fatalf("Verify(%s): %v", r.ToEmail, err)
				}
			}
			mid := sessionsOf(servers, drops)
			got, err := v.VerifyBatch(ctx, reqs)
			if err != nil {
				t.Fatalf("VerifyBatch: %v", err)
			}
			after := sessionsOf(servers, drops)
			if len(got) != len(reqs) {
				t.Fatalf("%d results for %d requests", len(got), len(reqs))
			}
			for i := range reqs {
				if g, w := comparable(got[i]), comparable(want[i]); !reflect.DeepEqual(g, w) {
					t.Errorf("%s:\n batch  %s\n verify %s", reqs[i].ToEmail, dump(g), dump(w))
				}
			}
			if after-mid >= mid-before {
				t.Errorf("VerifyBatch opened %d sessions, Verify %d: want fewer", after-mid, mid-before)
			}
			for d, s := range servers {
				if s.Refused() != 0 {
					t.Errorf("%s: %d connections did not come through the proxy", d, s.Refused())
				}
			}
		})
	}
}

func TestVerifyBatchSharesSessions(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "many.test", smtptest.Options{Pipelining: true, CatchAll: true})
	v := e.verifier(t, func(c *engine.Config) { c.MaxRecipientsPerSession = 10 })
	var reqs []engine.Request
	for _, m := range emails("many.test", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l") {
		reqs = append(reqs, engine.Request{ToEmail: m, SMTPPort: srv.Port()})
	}
	got, err := v.VerifyBatch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.IsReachable != engine.Risky || !r.SMTP.Value.IsCatchAll {
			t.Errorf("%s: %s catch-all=%v, want risky catch-all", r.Input, r.IsReachable, r.SMTP.Value.IsCatchAll)
		}
	}
	// 12 addresses, two sessions at once: 6 each, one catch-all probe.
	if s, rc := srv.Sessions(), srv.Rcpts(); s != 2 || rc != 13 {
		t.Errorf("sessions = %d, RCPTs = %d; want 2 and 13", s, rc)
	}
	if srv.MaxBatch() < 6 {
		t.Errorf("server MaxBatch = %d, want the RCPTs pipelined", srv.MaxBatch())
	}
}

func TestVerifyBatchDeadDomain(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "tarpit.test", smtptest.Options{NoBanner: true})
	v := e.verifier(t, func(c *engine.Config) { c.Defaults.Timeout = 300 * time.Millisecond })
	var reqs []engine.Request
	for _, m := range emails("tarpit.test", "a", "b", "c", "d", "e", "f", "g") {
		reqs = append(reqs, engine.Request{ToEmail: m, SMTPPort: srv.Port()})
	}
	got, err := v.VerifyBatch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if errType(r.SMTP) != "Timeout/timeout" || r.Retry == nil {
			t.Errorf("%s: %+v retry %v, want Timeout with a retry hint", r.Input, r.SMTP.Err, r.Retry)
		}
	}
	// A host that never greets is not tried again address by address.
	if n := srv.Sessions(); n > engine.DefaultSessionsPerDomain {
		t.Errorf("%d sessions to a tarpit for one domain, want at most %d", n, engine.DefaultSessionsPerDomain)
	}
}

func TestVerifyBatchGreylistRetry(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "grey1.test", smtptest.Options{Greylist: 1, Users: users("grey1.test", "a", ok250, "b", ok250)})
	v := e.verifier(t, func(c *engine.Config) { c.GreylistWait = 10 * time.Millisecond })
	reqs := []engine.Request{{ToEmail: "a@grey1.test", SMTPPort: srv.Port()}, {ToEmail: "b@grey1.test", SMTPPort: srv.Port()},
		{ToEmail: "c@grey1.test", SMTPPort: srv.Port()}}
	got, err := v.VerifyBatch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []engine.Reachability{engine.Safe, engine.Safe, engine.Invalid} {
		if got[i].IsReachable != want || got[i].Retry != nil {
			t.Errorf("%s: %s retry %v, want %s after one retry", got[i].Input, got[i].IsReachable, got[i].Retry, want)
		}
	}
}

func TestVerifyBatchIncomplete(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "late.test", smtptest.Options{CatchAll: true})
	v := e.verifier(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	reqs := []engine.Request{{ToEmail: "a@late.test", SMTPPort: srv.Port()}, {ToEmail: "not an address"},
		{ToEmail: "b@late.test", SMTPPort: srv.Port()}}
	got, err := v.VerifyBatch(ctx, reqs)
	var inc *engine.IncompleteError
	if !errors.As(err, &inc) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want an *IncompleteError wrapping context.Canceled", err)
	}
	if !reflect.DeepEqual(inc.Indices, []int{0, 2}) {
		t.Errorf("incomplete = %v, want [0 2]: the invalid address is final", inc.Indices)
	}
	if len(got) != 3 || got[1].IsReachable != engine.Invalid || got[1].Input != "not an address" {
		t.Errorf("results = %+v", got)
	}
}
