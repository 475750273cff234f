package mta

import (
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	testmta "github.com/mailprobe/mailprobe/internal/testenv/mta"
)

// OpenSMTPD with virtual users: a domain that lists its recipients
// answers an unknown one "550 Invalid recipient"; a domain routed through
// the virtual table alone answers "524 5.2.4 Mailing list expansion
// problem", which RFC 3463 gives to mailing lists, so it stays unknown.
func TestOpenSMTPDVirtualUsers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := testmta.StartOpenSMTPD(t, w.lb, testmta.OpenSMTPD{
		Domains:       []string{"os.test"},
		ExpandDomains: []string{"oslist.test"},
		Users:         []string{"known@os.test", "known@oslist.test"},
	})
	w.publish(s.Addr, "os.test", "oslist.test")
	v := w.verifier(t, nil)
	cases := []struct {
		email string
		want  want
	}{
		{"known@os.test", want{verdict: engine.Safe}},
		{"nobody@os.test", want{verdict: engine.Invalid}},
		{"known@oslist.test", want{verdict: engine.Safe}},
		{"nobody@oslist.test", want{verdict: engine.Unknown}},
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
