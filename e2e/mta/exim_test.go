package mta

import (
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	testmta "github.com/mailprobe/mailprobe/internal/testenv/mta"
)

// Exim checks recipients with `verify = recipient`: an unknown user gets
// "550 Unrouteable address".
func TestEximVerifyRecipient(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := testmta.StartExim(t, w.lb, testmta.Exim{
		Domains:  []string{"ex.test", "exall.test"},
		Users:    []string{"known@ex.test"},
		CatchAll: []string{"exall.test"},
	})
	w.publish(s.Addr, "ex.test", "exall.test")
	v := w.verifier(t, nil)
	cases := []struct {
		email string
		want  want
	}{
		{"known@ex.test", want{verdict: engine.Safe}},
		{"nobody@ex.test", want{verdict: engine.Invalid}},
		{"anyone@exall.test", want{verdict: engine.Risky, catchAll: true}},
	}
	emails := make([]string, len(cases))
	for i, c := range cases {
		emails[i] = c.email
		check(t, verify(t, v, engine.Request{ToEmail: c.email}), c.want)
	}
	for i, r := range verifyBatch(t, v, emails...) {
		check(t, r, cases[i].want)
	}
	w.viaProxy(t, s)
}
