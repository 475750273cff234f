package mta

import (
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	testmta "github.com/mailprobe/mailprobe/internal/testenv/mta"
)

// postgrey behind Postfix greylists each new (client, sender, recipient)
// triplet for a second; the engine asks again after greylistWait. Postfix
// refuses an unknown user before it asks postgrey.
func TestPostgreyGreylisting(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	pg := testmta.StartPostgrey(t, w.lb, greylistDelay)
	s := testmta.StartPostfix(t, w.lb, testmta.Postfix{
		Domains:   []string{"grey.test", "greyall.test"},
		Mailboxes: []string{"known@grey.test", "@greyall.test"},
		Policy:    pg.Addr,
	})
	w.publish(s.Addr, "grey.test", "greyall.test")
	v := w.verifier(t, nil)
	t.Run("known user", func(t *testing.T) {
		t.Parallel()
		check(t, verify(t, v, engine.Request{ToEmail: "known@grey.test"}), want{verdict: engine.Safe})
		if len(s.Rejects("known@grey.test")) == 0 {
			t.Error("postgrey never greylisted known@grey.test")
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		t.Parallel()
		check(t, verify(t, v, engine.Request{ToEmail: "nobody@grey.test"}), want{verdict: engine.Invalid})
	})
	// The catch-all probe is a new triplet, greylisted when the real
	// address passes: it must be asked again with the same address, and
	// a probe that never got an answer must not leave the address safe.
	t.Run("catch-all domain", func(t *testing.T) {
		t.Parallel()
		check(t, verify(t, v, engine.Request{ToEmail: "someone@greyall.test"}), want{verdict: engine.Risky, catchAll: true})
	})
	t.Run("VerifyBatch", func(t *testing.T) {
		t.Parallel()
		rs := verifyBatch(t, v, "known@grey.test", "nobody@grey.test")
		check(t, rs[0], want{verdict: engine.Safe})
		check(t, rs[1], want{verdict: engine.Invalid})
	})
	t.Cleanup(func() { w.viaProxy(t, s) })
}
