package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// ledger is a Limiter that keeps the accounts: RCPTs announced, RCPTs
// given back unsent, and the deferrals it was told of.
type ledger struct {
	announced, unsent atomic.Int64
	mu                sync.Mutex
	deferred          []string
}

func (l *ledger) Acquire(_ context.Context, _ string, rcpts int) (func(int), error) {
	l.announced.Add(int64(rcpts))
	return func(sent int) { l.unsent.Add(int64(rcpts - sent)) }, nil
}

func (l *ledger) Defer(host string, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deferred = append(l.deferred, host)
}

// charged is what the ledger's budget paid for in the end.
func (l *ledger) charged() int { return int(l.announced.Load() - l.unsent.Load()) }

func batchOf(domain string, port, n int) []engine.Request {
	reqs := make([]engine.Request, n)
	for i := range reqs {
		reqs[i] = engine.Request{ToEmail: fmt.Sprintf("user%d@%s", i, domain), SMTPPort: port}
	}
	return reqs
}

// TestVerifyBatchDomainDeferred covers a server that defers the whole
// domain (421 anywhere, 452 4.5.3 to a first RCPT, a 4xx to MAIL FROM or
// in the banner): the session stops, the addresses without an answer stay
// together for ONE more session after the MX host's backoff, and if that
// is deferred too, they all get a retry. No address is charged with the
// deferral as its own answer, and the limiter is charged only for RCPTs
// sent.
func TestVerifyBatchDomainDeferred(t *testing.T) {
	tests := []struct {
		name   string
		server smtptest.Options
	}{
		{"421 to the first RCPT", smtptest.Options{Mailbox: func(string) string { return "421 4.7.0 too many connections from your host" }}},
		{"452 4.5.3 to the first RCPT", smtptest.Options{Mailbox: func(string) string { return "452 4.5.3 Too many recipients" }}},
		{"452 4.5.3, pipelined", smtptest.Options{Pipelining: true, Mailbox: func(string) string { return "452 4.5.3 Too many recipients" }}},
		{"4xx to MAIL FROM", smtptest.Options{MailReply: "451 4.3.0 Temporary lookup failure, try later", CatchAll: true}},
		{"421 banner", smtptest.Options{Banner: "421 4.7.0 mx.test Error: too many connections"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := e.mailServer(t, "deferred.test", tt.server)
			lim := &ledger{}
			v := e.verifier(t, func(c *engine.Config) { c.Limiter = lim })
			got, err := v.VerifyBatch(context.Background(), batchOf("deferred.test", srv.Port(), 20))
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.Sessions(); n != 2 {
				t.Errorf("%d sessions, want 2: one, and one more after the backoff", n)
			}
			for _, r := range got {
				if r.IsReachable != engine.Unknown || r.Retry == nil || r.Retry.Kind != retry.Temporary {
					t.Errorf("%s: %s retry %+v, want unknown with a temporary retry", r.Input, r.IsReachable, r.Retry)
				}
				if r.SMTP.Err == nil || r.SMTP.Err.Message != got[0].SMTP.Err.Message {
					t.Errorf("%s: %+v, want the deferral every address got", r.Input, r.SMTP.Err)
				}
			}
			if lim.charged() != srv.Rcpts() {
				t.Errorf("limiter charged %d RCPTs, the server saw %d", lim.charged(), srv.Rcpts())
			}
			if len(lim.deferred) != 2 || lim.deferred[0] != "mx.deferred.test." {
				t.Errorf("deferrals told to the limiter: %q, want the MX host twice", lim.deferred)
			}
		})
	}
}

// TestVerifyBatchDomainRecovers checks that the one extra session after a
// deferral asks every address still unanswered, and only those.
func TestVerifyBatchDomainRecovers(t *testing.T) {
	e := newEnv(t)
	var rcpts atomic.Int64
	srv := e.mailServer(t, "recovers.test", smtptest.Options{Mailbox: func(rcpt string) string {
		switch n := rcpts.Add(1); {
		case n == 3:
			return "421 4.3.2 Service shutting down"
		case strings.HasPrefix(rcpt, "user"):
			return ok250
		}
		return "550 5.1.1 user unknown"
	}})
	v := e.verifier(t, nil)
	got, err := v.VerifyBatch(context.Background(), batchOf("recovers.test", srv.Port(), 10))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.IsReachable != engine.Safe {
			t.Errorf("%s: %s (%+v), want safe", r.Input, r.IsReachable, r.SMTP.Err)
		}
	}
	// Two answers, the 421, then the other eight and the probe.
	if s, n := srv.Sessions(), srv.Rcpts(); s != 2 || n != 12 {
		t.Errorf("%d sessions and %d RCPTs, want 2 and 12", s, n)
	}
}

// TestVerifyDomainDeferredNoRoomToWait checks that when the caller's
// deadline leaves no room for a session after the backoff, the addresses
// get their retry at once instead of a wait in vain.
func TestVerifyDomainDeferredNoRoomToWait(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "busy.test", smtptest.Options{Banner: "421 4.7.0 try again in 10 minutes"})
	v := e.verifier(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := v.Verify(ctx, engine.Request{ToEmail: "a@busy.test", SMTPPort: srv.Port()})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Sessions() != 1 || r.Retry == nil || !r.Retry.Stated || r.Retry.After != 10*time.Minute {
		t.Errorf("%d sessions, retry %+v; want 1 session and the server's 10 minutes", srv.Sessions(), r.Retry)
	}
}

// TestVerifyBatchDropAfterEHLO checks that a server that hangs up before
// any RCPT costs one session per try for the whole domain, not one per
// address: what breaks the session is not about any of them.
func TestVerifyBatchDropAfterEHLO(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "hangup.test", smtptest.Options{DropAfterEHLO: true})
	v := e.verifier(t, nil)
	got, err := v.VerifyBatch(context.Background(), batchOf("hangup.test", srv.Port(), 7))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.IsReachable != engine.Unknown || r.Retry == nil || r.Retry.Kind != retry.Connection {
			t.Errorf("%s: %s retry %+v, want unknown with a connection retry", r.Input, r.IsReachable, r.Retry)
		}
	}
	if n := srv.Sessions(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

// heldLimiter is a Limiter that holds every MX host back past the
// caller's deadline, as politeness.Local does after a deferral.
type heldLimiter struct{ until time.Time }

type heldError struct{ until time.Time }

func (e heldError) Error() string      { return "held back" }
func (e heldError) RetryAt() time.Time { return e.until }

func (h heldLimiter) Acquire(context.Context, string, int) (func(int), error) {
	return nil, heldError(h)
}

// TestVerifyHeldByLimiter checks that an MX host the limiter holds back
// (another session there was deferred) costs no session and no attempt:
// the addresses get a temporary retry for when the host lets us back.
func TestVerifyHeldByLimiter(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "held.test", smtptest.Options{CatchAll: true})
	v := e.verifier(t, func(c *engine.Config) { c.Limiter = heldLimiter{time.Now().Add(10 * time.Minute)} })
	got, err := v.VerifyBatch(context.Background(), batchOf("held.test", srv.Port(), 3))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Retry == nil || r.Retry.Kind != retry.Temporary || !r.Retry.Stated || r.Retry.After < 9*time.Minute {
			t.Errorf("%s: retry %+v, want a temporary one in about 10 minutes", r.Input, r.Retry)
		}
	}
	if srv.Sessions() != 0 {
		t.Errorf("%d sessions to a host held back", srv.Sessions())
	}
}
