package mta

import (
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	testmta "github.com/mailprobe/mailprobe/internal/testenv/mta"
)

// startLimited starts a Postfix for limits.test with known users k1-k6
// and the given main.cf limits. Each test has its own instance: anvil
// counts per instance.
func startLimited(t *testing.T, w *world, params map[string]string) *testmta.PostfixServer {
	t.Helper()
	s := testmta.StartPostfix(t, w.lb, testmta.Postfix{
		Domains:   []string{"limits.test"},
		Mailboxes: []string{"k1@limits.test", "k2@limits.test", "k3@limits.test", "k4@limits.test", "k5@limits.test", "k6@limits.test"},
		Params:    params,
	})
	w.publish(s.Addr, "limits.test")
	return s
}

// smtpd_recipient_limit caps the recipients of one transaction: Postfix
// answers "452 4.5.3 Error: too many recipients" and the engine goes on
// in a new transaction of the same session.
func TestPostfixRecipientLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := startLimited(t, w, map[string]string{"smtpd_recipient_limit": "2"})
	v := w.verifier(t, func(c *engine.Config) { c.SessionsPerDomain = 1 })
	rs := verifyBatch(t, v, "k1@limits.test", "x1@limits.test", "k2@limits.test", "x2@limits.test", "k3@limits.test")
	for i, wv := range []engine.Reachability{engine.Safe, engine.Invalid, engine.Safe, engine.Invalid, engine.Safe} {
		check(t, rs[i], want{verdict: wv})
	}
	if len(s.Rejects("")) == 0 || len(s.Clients()) != 1 {
		t.Errorf("want one session with 452 4.5.3 answers; clients %v, rejects %q", s.Clients(), s.Rejects(""))
	}
	w.viaProxy(t, s)
}

// anvil's connection-rate limit answers the third connection of a minute
// "421 4.7.0 <host> Error: too many connections from <ip>": a rate limit
// on us, unknown and retryable, never a verdict on the mailbox.
func TestPostfixConnectionRateLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := startLimited(t, w, map[string]string{"smtpd_client_connection_rate_limit": "2"})
	v := w.verifier(t, func(c *engine.Config) { c.GreylistWait = 0 })
	check(t, verify(t, v, engine.Request{ToEmail: "k1@limits.test"}), want{verdict: engine.Safe})
	check(t, verify(t, v, engine.Request{ToEmail: "x1@limits.test"}), want{verdict: engine.Invalid})
	r := verify(t, v, engine.Request{ToEmail: "k2@limits.test"})
	check(t, r, want{verdict: engine.Unknown, cause: engine.CauseRateLimited})
	if r.Retry == nil {
		t.Error("a rate-limited address must be retried later")
	}
	t.Run("VerifyBatch", func(t *testing.T) {
		before := len(s.Clients())
		for _, r := range verifyBatch(t, v, "k3@limits.test", "k4@limits.test", "k5@limits.test", "k6@limits.test") {
			check(t, r, want{verdict: engine.Unknown, cause: engine.CauseRateLimited})
		}
		if n := len(s.Clients()) - before; n > 2 {
			t.Errorf("the batch opened %d sessions to a server refusing connections, want at most 2", n)
		}
	})
	w.viaProxy(t, s)
}

// anvil's message-rate limit refuses the second MAIL FROM of a minute
// with "450 4.7.1 Error: too much mail from <ip>": a deferral of the
// whole session, for every address of the domain.
func TestPostfixMessageRateLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := startLimited(t, w, map[string]string{"smtpd_client_message_rate_limit": "1"})
	v := w.verifier(t, func(c *engine.Config) { c.GreylistWait, c.SessionsPerDomain = 0, 1 })
	check(t, verify(t, v, engine.Request{ToEmail: "k1@limits.test"}), want{verdict: engine.Safe})
	r := verify(t, v, engine.Request{ToEmail: "k2@limits.test"})
	check(t, r, want{verdict: engine.Unknown, cause: engine.CauseRateLimited})
	if r.Retry == nil {
		t.Error("a rate-limited address must be retried later")
	}
	t.Run("VerifyBatch", func(t *testing.T) {
		before := len(s.Clients())
		for _, r := range verifyBatch(t, v, "k3@limits.test", "k4@limits.test", "k5@limits.test", "k6@limits.test", "x1@limits.test") {
			check(t, r, want{verdict: engine.Unknown, cause: engine.CauseRateLimited})
		}
		if n := len(s.Clients()) - before; n > 2 {
			t.Errorf("a 4xx to MAIL FROM is about the domain: the batch opened %d sessions, want at most 2", n)
		}
	})
	w.viaProxy(t, s)
}

// anvil's recipient-rate limit defers RCPTs beyond the limit with "450
// 4.7.1 Error: too many recipients from <ip>": unknown and retryable,
// never a full inbox, and never invalid even for an unknown user.
func TestPostfixRecipientRateLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Two RCPTs a minute: the first check's address and catch-all probe.
	s := startLimited(t, w, map[string]string{"smtpd_client_recipient_rate_limit": "2"})
	v := w.verifier(t, func(c *engine.Config) { c.GreylistWait = 0 })
	check(t, verify(t, v, engine.Request{ToEmail: "k1@limits.test"}), want{verdict: engine.Safe})
	for _, email := range []string{"k2@limits.test", "x1@limits.test"} {
		r := verify(t, v, engine.Request{ToEmail: email})
		check(t, r, want{verdict: engine.Unknown, cause: engine.CauseRateLimited})
		if r.Retry == nil {
			t.Errorf("%s: a rate-limited address must be retried later", r.Input)
		}
	}
	w.viaProxy(t, s)
}
