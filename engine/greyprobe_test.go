package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// TestVerifyCatchAllWithGreylisting checks the catch-all probe on servers
// that greylist every new (sender, recipient): the probe is asked again
// with the same address after greylist_wait, so it can pass like the real
// one; a probe that never gets a definite answer leaves the address risky,
// never safe.
func TestVerifyCatchAllWithGreylisting(t *testing.T) {
	realOnly := func(real string, probe string) func(string) string {
		return func(rcpt string) string {
			if strings.EqualFold(rcpt, real) {
				return ok250
			}
			return probe
		}
	}
	tests := []struct {
		name     string
		server   smtptest.Options
		want     engine.Reachability
		catchAll string
		retry    bool
	}{
		{"greylisting catch-all domain", smtptest.Options{Greylist: 1, CatchAll: true}, engine.Risky, engine.CatchAllYes, false},
		{"greylisting domain, not catch-all", smtptest.Options{Greylist: 1, Users: map[string]string{"a@grey.test": ok250}},
			engine.Safe, engine.CatchAllNo, false},
		{"probe deferred for good", smtptest.Options{Mailbox: realOnly("a@grey.test", "450 4.7.1 greylisted, come back later")},
			engine.Risky, engine.CatchAllUnanswered, true},
		{"probe refused by policy", smtptest.Options{Mailbox: realOnly("a@grey.test", "550 5.7.1 Relaying denied")},
			engine.Risky, engine.CatchAllUnanswered, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := e.mailServer(t, "grey.test", tt.server)
			v := e.verifier(t, func(c *engine.Config) { c.GreylistWait = 10 * time.Millisecond })
			for _, batch := range []bool{false, true} {
				reqs := []engine.Request{{ToEmail: "a@grey.test", SMTPPort: srv.Port(), JobID: "job-1"}}
				if batch {
					reqs = append(reqs, engine.Request{ToEmail: "a@grey.test", SMTPPort: srv.Port(), JobID: "job-2"})
				}
				got, err := v.VerifyBatch(context.Background(), reqs)
				if err != nil {
					t.Fatal(err)
				}
				r := got[len(got)-1]
				if r.IsReachable != tt.want || r.Debug.Mailprobe.CatchAll != tt.catchAll || (r.Retry != nil) != tt.retry {
					t.Errorf("batch=%v: %s catch_all=%q retry=%+v, want %s %q retry=%v",
						batch, r.IsReachable, r.Debug.Mailprobe.CatchAll, r.Retry, tt.want, tt.catchAll, tt.retry)
				}
				if tt.retry && r.Retry.Kind != retry.Greylisted {
					t.Errorf("retry kind %v, want greylisted", r.Retry.Kind)
				}
			}
		})
	}
}

// TestCatchAllProbeAddressPerJob checks that the probe address is the
// same for every check of a job and domain, differs between jobs, and is
// drawn afresh outside any job.
func TestCatchAllProbeAddressPerJob(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "probed.test", smtptest.Options{CatchAll: true})
	v := e.verifier(t, nil)
	probes := func(job string) string {
		before := len(srv.Commands())
		if _, err := v.Verify(context.Background(), engine.Request{ToEmail: "someone@probed.test", SMTPPort: srv.Port(), JobID: job}); err != nil {
			t.Fatal(err)
		}
		for _, c := range srv.Commands()[before:] {
			if strings.HasPrefix(c, "RCPT") && !strings.Contains(c, "someone@") {
				return c
			}
		}
		t.Fatal("no probe RCPT")
		return ""
	}
	a1, a2, b, n1, n2 := probes("job-a"), probes("job-a"), probes("job-b"), probes(""), probes("")
	if a1 != a2 {
		t.Errorf("one job probed with %q then %q", a1, a2)
	}
	if a1 == b || n1 == n2 || n1 == a1 {
		t.Errorf("probes %q %q %q %q: want job-b's and checks outside a job to differ", a1, b, n1, n2)
	}
	// A Verifier with the same secret probes with the same address.
	secret := []byte("0123456789abcdef0123456789abcdef")
	v1 := e.verifier(t, func(c *engine.Config) { c.ProbeSecret = secret })
	v2 := e.verifier(t, func(c *engine.Config) { c.ProbeSecret = secret })
	v = v1
	p1 := probes("job-a")
	v = v2
	if p2 := probes("job-a"); p1 != p2 || p1 == a1 {
		t.Errorf("same secret: %q and %q, want equal (and unlike another secret's %q)", p1, p2, a1)
	}
}
