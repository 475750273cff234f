package smtpstep

import (
	"context"
	"errors"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/clock"
)

// What is asked again within one check, and when:
//
//   - A session that breaks after some answers: the rest, in a new session
//     after a short backoff (RFC 5321 §3.8: a dropped connection ends the
//     session, not the work).
//   - A session that breaks after RCPTs were sent but before any answer:
//     the head address alone, in case a recipient broke it.
//   - No answer for the head address (or, before any RCPT, for the whole
//     domain): the next MX host, walking them Attempts times (Reacher's
//     retries), within the smtp timeout.
//   - A server that defers the whole domain (421, 452 4.5.3 to a first
//     RCPT, a 4xx before any RCPT): the MX host is left alone for
//     DomainBackoff (or the wait its reply names), then ONE more session
//     carries every address still unanswered. If that one is deferred too,
//     they all get a retry for later.
//   - Transient answers (greylisting) and a deferred catch-all probe: asked
//     again once, after GreylistWait, with the same probe address.
//
// Later retries, in other checks, are package retry's.

// Backoff before reconnecting to a server that broke a session: short, and
// never more than a tenth of the smtp timeout.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = 2 * time.Second
)

// backoff is the pause before the next session after broken sessions in
// a row: exponential, bounded by backoffMax and a tenth of the timeout.
func backoff(broken int, timeout time.Duration) time.Duration {
	if broken == 0 {
		return 0
	}
	return min(backoffBase<<min(broken-1, 10), backoffMax, timeout/10)
}

// What a chunk does after a session, by how the session ended.
type nextStep int

const (
	nextChunk     nextStep = iota // it ended normally: the next addresses, in a larger session
	nextDeferred                  // the server deferred the domain: back off, one more session
	nextReconnect                 // it broke after some answers: the rest, in a new session
	nextEndAll                    // we are refused: every address left gets the refusal
	nextHeadAlone                 // it broke after RCPTs but before any answer: the head alone
	nextTry                       // no answer for the head (or anyone): that is one try
	nextPostponed                 // the limiter booked the session for later: its addresses wait
)

// next reads how session r, which carried n addresses, ended. Neither
// another MX host nor a retry cures a refusal of us (before any
// recipient, or the same to every recipient and the catch-all probe) or a
// proxy refusing our credentials. (A private MX address is not such a
// failure: the next host may be public.)
func next(r sessionResult, n int) nextStep {
	if _, ok := postponedUntil(r.err); ok {
		return nextPostponed
	}
	switch {
	case r.out.Refused != nil:
		return nextEndAll // every address left would get the same refusal
	case deferral(r) != nil:
		return nextDeferred
	case r.err == nil:
		return nextChunk
	case len(r.out.Recipients) > 0:
		return nextReconnect
	case refusal(r.err) != nil || (!r.connected && dialer.IsAuth(r.err)):
		return nextEndAll
	case r.out.RcptsSent > 0 && n > 1:
		return nextHeadAlone
	}
	return nextTry
}

// postponement is a limiter's answer that a session may start only at a
// later time, for a caller that can come back then instead of waiting
// (politeness.PostponedError).
type postponement interface{ PostponedUntil() time.Time }

// postponedUntil reports whether err is a postponement, and until when.
func postponedUntil(err error) (time.Time, bool) {
	var p postponement
	if errors.As(err, &p) {
		return p.PostponedUntil(), true
	}
	return time.Time{}, false
}

// tries walks the MX hosts in preference order, Attempts times, for the
// address at the head of a chunk. It starts afresh whenever a session
// brings an answer: the next address has had no try of its own yet.
type tries struct {
	n         int // sessions counted: host n%len(hosts), walk n/len(hosts)
	lastErr   error
	lastReply string
	proxy     *dialer.Proxy // of the last session that connected
	greeted   bool          // a server greeted us
	rcptSent  bool          // and heard a RCPT: failures may be the head address's own
	deadline  time.Time     // the smtp timeout; our own waits push it back
}

func (s *step) newTries() *tries {
	return &tries{deadline: time.Now().Add(s.rt.Timeout)}
}

// left reports whether the head address may have another session.
func (t *tries) left(ctx context.Context, rt Route) bool {
	return ctx.Err() == nil && t.n < max(1, rt.Attempts)*len(rt.Hosts) && time.Now().Before(t.deadline)
}

// waited moves the deadline back by d, time spent waiting for the limiter
// or a backoff: the timeout bounds the servers, not us.
func (t *tries) waited(d time.Duration) { t.deadline = t.deadline.Add(d) }

// note records a session that broke before any answer. A host refused
// for its private address does not hide an earlier, more telling failure
// of another host: the result is PrivateAddress only when no host could
// be tried at all.
func (t *tries) note(r sessionResult) {
	if t.lastErr == nil || !errors.Is(r.err, dialer.ErrPrivateAddress) {
		t.lastErr = r.err
	}
	if r.proxy != nil {
		t.proxy = r.proxy
	}
	if rep := sessionReply(r.err); rep != nil {
		t.lastReply = rep.Error()
	}
	t.greeted = t.greeted || r.out.CanConnect
	t.rcptSent = t.rcptSent || r.out.RcptsSent > 0
}

// headsOwn reports whether the tries' failure is the head address's own:
// a server greeted us and heard a RCPT. Otherwise (a dead host, a proxy
// that fails, a server that drops us before any RCPT) every address of
// the domain would meet it.
func (t *tries) headsOwn() bool { return t.greeted && t.rcptSent }

// backOff leaves the MX host of a session the server ended with a
// deferral alone, and returns how long, or false when the ctx's deadline
// leaves no room for a session after that wait.
func (s *step) backOff(ctx context.Context, r sessionResult) (time.Duration, bool) {
	wait := s.env.DomainBackoff
	if d, ok := statedWait(deferral(r)); ok {
		wait = d
	}
	until := time.Now().Add(wait)
	if dl, ok := ctx.Deadline(); ok && until.Add(s.rt.Timeout).After(dl) {
		return wait, false
	}
	if d, ok := s.env.Limiter.(Deferrer); ok {
		d.Defer(r.host, until)
	}
	return wait, true
}

// waitForAgain waits GreylistWait, when set, if some address got a
// transient answer (greylisting) or the catch-all probe was deferred, and
// reports whether to ask again. Addresses of a deferred domain had their
// extra session already.
func (s *step) waitForAgain(ctx context.Context) bool {
	if s.env.GreylistWait <= 0 || ctx.Err() != nil {
		return false
	}
	again := s.again()
	if len(again) == 0 && !(s.ca.askAgain() && s.anyAccepted()) {
		return false
	}
	if err := clock.Sleep(ctx, s.env.GreylistWait); err != nil {
		for _, i := range again {
			s.answers[i].Final = false // the retry they were due never ran
		}
		return false
	}
	s.ca.askAgain()
	return true
}

// again lists the addresses to ask again after GreylistWait.
func (s *step) again() []int {
	var idx []int
	for i, a := range s.answers {
		if a.Retry != nil && (a.Retry.Kind == retry.Greylisted || a.Retry.Kind == retry.Temporary) && !s.held[i] {
			idx = append(idx, i)
		}
	}
	return idx
}

// anyAccepted reports whether some address was accepted: only those need
// the catch-all answer.
func (s *step) anyAccepted() bool {
	for _, a := range s.answers {
		if a.Failure == nil && a.Facts.Deliverable {
			return true
		}
	}
	return false
}
