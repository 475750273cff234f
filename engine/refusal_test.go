package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// A server that refuses our sender at RCPT time (Postfix with
// smtpd_delay_reject) answers every recipient alike. Once the catch-all
// probe gets the same refusal, the session is refused, not the mailboxes:
// every address of the domain is unknown with the cause, and the ones
// not asked yet are not asked at all.
func TestSessionRefusedAtRcpt(t *testing.T) {
	e := newEnv(t)
	const refusal = "504 5.5.2 <hello@localhost>: Sender address rejected: need fully-qualified address"
	srv := e.mailServer(t, "refuses.test", smtptest.Options{Mailbox: func(string) string { return refusal }})
	v := e.verifier(t, func(c *engine.Config) { c.MaxRecipientsPerSession, c.SessionsPerDomain = 2, 1 })
	var reqs []engine.Request
	for _, l := range []string{"a", "b", "c", "d", "e", "f"} {
		reqs = append(reqs, engine.Request{ToEmail: l + "@refuses.test", SMTPPort: srv.Port()})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := v.VerifyBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.IsReachable != engine.Unknown || r.SMTP.Err == nil || r.SMTP.Err.Cause != engine.CauseSenderRejected || !r.SMTP.Err.SessionWide {
			t.Errorf("%s: %s %+v, want unknown, sender_rejected, session-wide", r.Input, r.IsReachable, r.SMTP.Err)
		}
		if r.Retry != nil {
			t.Errorf("%s: a permanent refusal of the sender is not retried: %+v", r.Input, r.Retry)
		}
	}
	// The first session: two addresses and the probe. Nothing after it.
	if srv.Sessions() != 1 || srv.Rcpts() != 3 {
		t.Errorf("server saw %d sessions and %d RCPTs, want 1 and 3", srv.Sessions(), srv.Rcpts())
	}
}

// The same refusal for the address but another answer for the probe (an
// unknown user) is about that mailbox: unknown with the cause, not
// session-wide, and the other addresses are still asked.
func TestMailboxRefusedAtRcpt(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "onebox.test", smtptest.Options{Users: map[string]string{
		"a@onebox.test": "550 5.7.1 Message rejected due to local policy",
		"b@onebox.test": "250 2.1.5 OK",
	}})
	v := e.verifier(t, nil)
	r := verify(t, v, "a@onebox.test", srv.Port())
	if r.IsReachable != engine.Unknown || r.SMTP.Err == nil || r.SMTP.Err.Cause != engine.CausePolicy || r.SMTP.Err.SessionWide {
		t.Errorf("a: %s %+v, want unknown, policy, not session-wide", r.IsReachable, r.SMTP.Err)
	}
	if r := verify(t, v, "b@onebox.test", srv.Port()); r.IsReachable != engine.Safe {
		t.Errorf("b: %s, want safe", r.IsReachable)
	}
}

// A refusal before any recipient is about us whatever its words: at MAIL
// FROM it is the sender's, even when the text reads like a mailbox answer.
func TestRefusalStageNamesTheCause(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		server smtptest.Options
		cause  engine.Cause
	}{
		{"MAIL FROM", smtptest.Options{MailReply: "550 5.1.0 Address rejected."}, engine.CauseSenderRejected},
		{"banner", smtptest.Options{Banner: "554 No SMTP service here"}, engine.CausePolicy},
	}
	v := e.verifier(t, nil)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			domain := "stage" + string(rune('a'+i)) + ".test"
			srv := e.mailServer(t, domain, tt.server)
			r := verify(t, v, "x@"+domain, srv.Port())
			if r.IsReachable != engine.Unknown || r.SMTP.Err == nil || r.SMTP.Err.Cause != tt.cause || !r.SMTP.Err.SessionWide {
				t.Errorf("%s %+v, want unknown, %s, session-wide", r.IsReachable, r.SMTP.Err, tt.cause)
			}
		})
	}
}
