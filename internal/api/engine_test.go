package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// realEngine builds the engine against loopback DNS that points every
// domain in domains at 127.0.0.1.
func realEngine(t testing.TB, domains ...string) *engine.Verifier {
	t.Helper()
	dns := dnstest.Start(t, nil)
	for _, d := range domains {
		dns.AddMX(d+".", 10, "mx."+d+".")
		dns.AddA("mx."+d+".", "127.0.0.1")
	}
	res, err := mx.New(mx.Config{Servers: []string{dns.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	v, err := engine.New(engine.Config{
		BackendName:    "test",
		Resolver:       res,
		AllowPrivateMX: true,
		AllowDirect:    true,
		Defaults:       engine.SMTPSettings{Timeout: 30 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestInlineDeadlineFallback: a tarpit MX (accepts, never sends a banner)
// and a tiny inline budget: the API answers 200 with the result so far, an
// unknown with Reacher's Timeout error, as Reacher; the check goes on in
// the background, and its status URL (X-Mailprobe-Status-Url) answers 202
// until the worker stores a result, then 200 with it.
func TestInlineDeadlineFallback(t *testing.T) {
	tarpit := smtptest.Start(t, smtptest.Options{NoBanner: true})
	v := realEngine(t, "tarpit.test")
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.InlineBudget = 300 * time.Millisecond
		d.Checker = v
	})
	body := `{"to_email":"someone@tarpit.test","smtp_port":` + strconv.Itoa(tarpit.Port()) + `}`
	r := hs.do(t, "POST", "/v1/check_email", body, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var res engine.Result
	if err := json.Unmarshal(r.body, &res); err != nil || res.IsReachable != engine.Unknown ||
		res.SMTP.Err == nil || res.SMTP.Err.Type != "Timeout" || res.SMTP.Err.Timeout == nil {
		t.Fatalf("result so far %s (%v), want unknown with a Timeout error", r.body, err)
	}
	url := r.header.Get(headerStatusURL)
	msgs, _ := hs.queue.sent()
	if len(msgs) != 1 || msgs[0].Items[0].Email != "someone@tarpit.test" {
		t.Fatalf("queued %+v", msgs)
	}
	if p := hs.do(t, "GET", url, "", nil); p.status != http.StatusAccepted {
		t.Fatalf("pending status: %d %s", p.status, p.body)
	}

	// The worker, later, with a patient budget, against a server that
	// answers: it stores the final result.
	good := smtptest.Start(t, smtptest.Options{Users: map[string]string{"someone@tarpit.test": smtptest.AcceptReply}})
	var req engine.Request
	if err := json.Unmarshal(msgs[0].Request, &req); err != nil {
		t.Fatal(err)
	}
	req.SMTPPort = good.Port()
	res, err := v.Verify(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	hs.storeResult(t, msgs[0].JobID, 0, res)
	done := hs.do(t, "GET", url, "", nil)
	if done.status != 200 || done.json(t)["is_reachable"] != "safe" {
		t.Fatalf("final status: %d %s", done.status, done.body)
	}
}

func TestRealEngineVerdicts(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: map[string]string{"alice@mail.test": smtptest.AcceptReply}})
	v := realEngine(t, "mail.test")
	hs := newHarness(t, func(_ *Config, d *Deps) { d.Checker = v })
	port := strconv.Itoa(srv.Port())
	tests := []struct{ email, want string }{
		{"alice@mail.test", "safe"},
		{"bob@mail.test", "invalid"},
		{"not-an-address", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"`+tt.email+`","smtp_port":`+port+`}`, nil)
			if r.status != 200 || r.json(t)["is_reachable"] != tt.want {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
}
