package mta

import (
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	testmta "github.com/mailprobe/mailprobe/internal/testenv/mta"
)

// A Postfix set up as many are: virtual mailboxes, a catch-all domain,
// access-map replies for a full and a disabled mailbox (wording from
// Dovecot's quota-status service and RFC 3463), a sender domain refused
// with 553 5.1.8, and reject_non_fqdn_sender / reject_non_fqdn_helo_hostname.
func startPostfix(t *testing.T, w *world) *testmta.PostfixServer {
	t.Helper()
	s := testmta.StartPostfix(t, w.lb, testmta.Postfix{
		Domains:   []string{"pf.test", "all.test"},
		Mailboxes: []string{"known@pf.test", "full@pf.test", "disabled@pf.test", "other@pf.test", "@all.test"},
		RecipientAccess: map[string]string{
			"full@pf.test":     "552 5.2.2 Mailbox is full",
			"disabled@pf.test": "550 5.2.1 Mailbox disabled, not accepting messages",
		},
		SenderAccess:        map[string]string{"nowhere.test": "553 5.1.8 Domain not found"},
		RejectNonFQDNSender: true,
		HeloRestrictions:    []string{"reject_invalid_helo_hostname", "reject_non_fqdn_helo_hostname"},
	})
	w.publish(s.Addr, "pf.test", "all.test")
	return s
}

// postfixCases are the mailbox answers, which Verify and VerifyBatch must
// read alike.
var postfixCases = []struct {
	email string
	want  want
}{
	{"known@pf.test", want{verdict: engine.Safe}},
	{"nobody@pf.test", want{verdict: engine.Invalid}},
	{"anyone@all.test", want{verdict: engine.Risky, catchAll: true}},
	{"full@pf.test", want{verdict: engine.Risky, full: true}},
	{"disabled@pf.test", want{verdict: engine.Invalid, disabled: true}},
}

func TestPostfixMailboxes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := startPostfix(t, w)
	v := w.verifier(t, nil)
	t.Run("Verify", func(t *testing.T) {
		for _, c := range postfixCases {
			check(t, verify(t, v, engine.Request{ToEmail: c.email}), c.want)
		}
	})
	t.Run("VerifyBatch", func(t *testing.T) {
		emails := make([]string, len(postfixCases))
		for i, c := range postfixCases {
			emails[i] = c.email
		}
		for i, r := range verifyBatch(t, v, emails...) {
			check(t, r, postfixCases[i].want)
		}
	})
	w.viaProxy(t, s)
}

// Refusals of the sender or the EHLO name are about us, not the mailbox:
// the verdict is unknown with the cause named, never invalid, and when
// the catch-all probe gets the same reply the whole session is refused.
func TestPostfixSenderAndHeloRejections(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := startPostfix(t, w)
	fqdn := w.verifier(t, nil)
	reacher := w.verifier(t, reacherDefaults)
	tests := []struct {
		name string
		v    *engine.Verifier
		req  engine.Request
		want want
	}{
		// 553 5.1.8 <hello@nowhere.test>: Sender address rejected: Domain not found
		{"check_sender_access 553 5.1.8", fqdn,
			engine.Request{ToEmail: "known@pf.test", FromEmail: "hello@nowhere.test"}, want{verdict: engine.Unknown, cause: engine.CauseSenderRejected}},
		{"unknown mailbox, refused sender", fqdn,
			engine.Request{ToEmail: "nobody@pf.test", FromEmail: "hello@nowhere.test"}, want{verdict: engine.Unknown, cause: engine.CauseSenderRejected}},
		// 504 5.5.2 <hello@localhost>: Sender address rejected: need fully-qualified address
		{"reject_non_fqdn_sender, default from_email", fqdn,
			engine.Request{ToEmail: "nobody@pf.test", FromEmail: "hello@localhost"}, want{verdict: engine.Unknown, cause: engine.CauseSenderRejected}},
		// 504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname
		{"reject_non_fqdn_helo_hostname, default hello_name", fqdn,
			engine.Request{ToEmail: "nobody@pf.test", HelloName: "localhost"}, want{verdict: engine.Unknown, cause: engine.CauseHeloRejected}},
		{"Reacher defaults", reacher,
			engine.Request{ToEmail: "nobody@pf.test"}, want{verdict: engine.Unknown, cause: engine.CauseHeloRejected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := verify(t, tt.v, tt.req)
			check(t, r, tt.want)
			if r.SMTP.Err != nil && !r.SMTP.Err.SessionWide {
				t.Errorf("the catch-all probe got the same refusal, so the session is refused: %+v", r.SMTP.Err)
			}
		})
	}
	t.Run("VerifyBatch, Reacher defaults", func(t *testing.T) {
		for _, r := range verifyBatch(t, reacher, "known@pf.test", "nobody@pf.test", "other@pf.test", "anyone@all.test") {
			check(t, r, want{verdict: engine.Unknown, cause: engine.CauseHeloRejected})
		}
	})
	w.viaProxy(t, s)
}
