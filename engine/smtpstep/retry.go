package smtpstep

import (
	"context"
	"errors"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
)

// What the step asks again within one check. Delayed retries (minutes
// later, in another check) are the caller's, by package engine/retry.

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
	nextReconnect                 // it broke after some answers: the rest, in a new session
	nextEndAll                    // we are refused: every address left gets the refusal
	nextHeadAlone                 // it broke before any answer: the head address alone
	nextTry                       // the head's session failed: that is one try
)

// next reads how session r, which carried n addresses, ended. A session
// that breaks after some answers is followed by another for the rest
// (RFC 5321 §3.8: a 421 or a dropped connection ends the session, not the
// work); one that breaks before any answer is tried again with the head
// address alone, and only then counts as a try. Neither another MX host
// nor a retry cures a refusal of us or a proxy refusing our credentials.
// (A private MX address is not such a failure: the next host may be
// public.)
func next(r sessionResult, n int) nextStep {
	switch {
	case r.err == nil:
		return nextChunk
	case len(r.out.Recipients) > 0:
		return nextReconnect
	case refusal(r.err) != nil || (!r.connected && dialer.IsAuth(r.err)):
		return nextEndAll
	case r.out.CanConnect && n > 1:
		return nextHeadAlone
	}
	return nextTry
}

// tries walks the MX hosts in preference order, Retries+1 times, for the
// address at the head of a chunk. It starts afresh whenever a session
// brings an answer: the next address has had no try of its own yet.
type tries struct {
	n         int // sessions counted: host n%len(hosts), walk n/len(hosts)
	lastErr   error
	lastReply string
	proxy     *dialer.Proxy // of the last session that connected
	greeted   bool          // a server greeted us: failures are the head address's own
	deadline  time.Time     // the smtp timeout; our own waits push it back
}

func (s *step) newTries() *tries {
	return &tries{deadline: time.Now().Add(s.rt.Timeout)}
}

// left reports whether the head address may have another session.
func (t *tries) left(ctx context.Context, rt Route, hosts int) bool {
	return ctx.Err() == nil && t.n < (rt.Retries+1)*hosts && time.Now().Before(t.deadline)
}

// waited moves the deadline back by the time spent since start waiting
// for the limiter or a backoff: the timeout bounds the servers, not us.
func (t *tries) waited(start time.Time) { t.deadline = t.deadline.Add(time.Since(start)) }

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
}

// askGreylistedAgain waits GreylistWait, when set, and asks once more
// about the addresses that got a temporary answer.
func (s *step) askGreylistedAgain(ctx context.Context) {
	var again []int
	for i, a := range s.answers {
		if a.Retry != nil {
			again = append(again, i)
		}
	}
	if len(again) == 0 || s.env.GreylistWait <= 0 || ctx.Err() != nil {
		return
	}
	if err := sleep(ctx, s.env.GreylistWait); err != nil {
		for _, i := range again {
			s.answers[i].Final = false // the retry they were due never ran
		}
		return
	}
	s.ask(ctx, again)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
