package smtpstep

import (
	"context"
	"io"
	"slices"
	"sync"

	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// catchAll is a domain's one catch-all probe, shared by the sessions of a
// run: the first session that carries it and reaches it answers for every
// address of the domain.
type catchAll struct {
	addr string // the probe address; "" when the domain is not probed

	mu     sync.Mutex
	asking bool
	known  bool
	value  *bool
}

// newCatchAll prepares the probe of domain.
func newCatchAll(random io.Reader, domain string) catchAll {
	if !probed(domain) {
		return catchAll{}
	}
	return catchAll{addr: randomLocal(random) + "@" + domain}
}

// probed reports whether a domain gets the catch-all probe. Only Gmail's
// consumer domains are spared it: their mailboxes are never catch-all, and
// one RCPT fewer is one reason fewer to throttle us. Other consumer
// providers (Outlook.com, Yahoo) accept any RCPT; the probe is what shows
// it, making their answers risky instead of falsely safe.
func probed(domain string) bool {
	return domain != "gmail.com" && domain != "googlemail.com"
}

// randomLocal returns a 15-character local part that no real mailbox has.
func randomLocal(random io.Reader) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [15]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		// A broken random source still must not yield a real-looking name.
		copy(b[:], "mailprobe-catch")
		return string(b[:])
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// claim returns the address to probe in a session about to start, or ""
// when the answer is known or another session carries the probe.
func (c *catchAll) claim() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addr == "" || c.known || c.asking {
		return ""
	}
	c.asking = true
	return c.addr
}

// settle records what a session that claimed the probe learnt. Only a
// reply counts: a session that broke before the probe, or had no accepted
// recipient to put before it, leaves it to the next session.
func (c *catchAll) settle(claimed string, out *smtpprobe.Outcome) {
	if claimed == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asking = false
	if out.CatchAllReply != nil {
		c.known, c.value = true, out.CatchAll
	}
}

// answer returns the catch-all answer (nil: not catch-all as far as we
// know) and whether the probe was answered at all.
func (c *catchAll) answer() (*bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value, c.known
}

// mark applies the answer to an address: the acceptance of a mailbox of a
// catch-all domain proves nothing (Reacher's is_catch_all).
func (c *catchAll) mark(a *Answer) {
	value, _ := c.answer()
	if a.Failure == nil && a.Facts.Deliverable {
		a.Facts.CatchAll = value != nil && *value
	}
}

// catchAllAlone asks the catch-all probe in a session of its own when no
// session could (each broke before reaching it, or none had an accepted
// address when it carried the probe), after an accepted address as a
// one-address run asks it. Without this, whether a domain is catch-all
// would depend on how the addresses were cut into sessions.
func (s *step) catchAllAlone(ctx context.Context) {
	if _, known := s.ca.answer(); known || s.ca.addr == "" || ctx.Err() != nil {
		return
	}
	i := slices.IndexFunc(s.answers, func(a Answer) bool { return a.Failure == nil && a.Facts.Deliverable })
	if i < 0 {
		return
	}
	t := s.newTries()
	t.n = max(0, slices.IndexFunc(s.rt.Hosts, func(h mx.Host) bool { return h.Name == s.answers[i].Host }))
	s.session(ctx, t, []int{i}, 0) // its answer about the address is not news
}
