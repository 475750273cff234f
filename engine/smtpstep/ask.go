package smtpstep

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// ask asks about the addresses at idx: workers take chunks from a shared
// queue until it is empty. A domain gets one session at a time unless its
// addresses fill more than one (up to SessionsPerDomain at once), so a
// small domain costs its servers one session per round. Addresses that
// need SMTPUTF8 go in sessions of their own.
func (s *step) ask(ctx context.Context, idx []int) {
	ascii := slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return s.addrs[i].UTF8 })
	utf8 := slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return !s.addrs[i].UTF8 })
	for _, part := range [][]int{ascii, utf8} {
		if len(part) == 0 {
			continue
		}
		q := &queue{idx: part}
		most := s.env.MaxRecipientsPerSession
		workers := max(1, min(s.env.SessionsPerDomain, (len(part)+most-1)/most))
		per := min(most, (len(part)+workers-1)/workers)
		if workers == 1 {
			s.work(ctx, q, per)
			continue
		}
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() { s.work(ctx, q, per) })
		}
		wg.Wait()
	}
}

func (s *step) work(ctx context.Context, q *queue, per int) {
	for c := q.take(per); len(c) > 0; c = q.take(per) {
		s.chunk(ctx, c, q)
	}
}

// chunk asks about the addresses at c, over as many sessions as it takes.
// How a session ended decides what comes next (see next in retry.go).
func (s *step) chunk(ctx context.Context, c []int, q *queue) {
	size, broken, extra := len(c), 0, false
	var hold time.Duration // a deferred MX host's wait before the extra session
	t := s.newTries()
	for len(c) > 0 {
		if !t.left(ctx, s.rt) {
			c = s.giveUp(ctx, c, q, t)
			t = s.newTries()
			continue
		}
		n := min(size, len(c))
		r := s.session(ctx, t, c[:n], max(hold, backoff(broken, s.rt.Timeout)))
		hold = 0
		c = c[s.record(c, r):]
		switch next(r, n) {
		case nextChunk:
			size, broken, extra, t = min(2*size, s.env.MaxRecipientsPerSession), 0, false, s.newTries()
		case nextDeferred:
			// Every address still unanswered stays in this chunk, and
			// the domain's other sessions find nothing more to take.
			c = slices.Concat(c, q.drain())
			wait, ok := s.backOff(ctx, r)
			if extra || !ok {
				s.deferAll(ctx, c, r, wait)
				return
			}
			extra, hold, broken, t = true, wait, 0, s.newTries()
			size = min(len(c), s.env.MaxRecipientsPerSession)
		case nextReconnect:
			broken, t = broken+1, s.newTries()
		case nextEndAll:
			t.note(r)
			s.failAll(ctx, slices.Concat(c, q.drain()), endedBy(r), t)
			return
		case nextHeadAlone:
			t.note(r)
			size, broken = 1, broken+1
		case nextTry:
			t.note(r)
			t.n, broken = t.n+1, 0
		case nextPostponed:
			// Only this chunk: the domain's other sessions book their own
			// times.
			until, _ := postponedUntil(r.err)
			s.postponeAll(ctx, c, until)
			return
		}
	}
}

// record notes the answers session r brought about the addresses at the
// head of c and returns how many there are. A "too many recipients" to
// the first RCPT of a transaction is the server deferring the domain, not
// an answer about that address.
func (s *step) record(c []int, r sessionResult) int {
	rs := r.out.Recipients
	if n := len(rs); n > 0 && rs[n-1].Class == smtpprobe.TooManyRecipients {
		rs = rs[:n-1]
	}
	for i, rr := range rs {
		a := &s.answers[c[i]]
		a.Facts, a.Failure, a.Retry = judgeRecipient(rr)
		if a.Failure != nil && r.out.Refused != nil {
			a.Failure.SessionWide = true
		}
		if rr.Reply != nil {
			a.LastReply = rr.Reply.Error()
		}
		// A reply is a fact even if ctx ends afterwards: final.
		a.Host, a.Proxy, a.Final = r.host, r.proxy, true
	}
	return len(rs)
}

// giveUp ends the tries of the head of c with the last error, and returns
// the addresses still to ask. Unless the failure is the head's own (see
// headsOwn), every address of c and of the queue gets it.
func (s *step) giveUp(ctx context.Context, c []int, q *queue, t *tries) []int {
	ctxErr := ctx.Err()
	if ctxErr == nil && !time.Now().Before(t.deadline) {
		ctxErr = context.DeadlineExceeded
	}
	if t.headsOwn() && ctx.Err() == nil {
		s.fail(ctx, c[0], ctxErr, t)
		return c[1:]
	}
	for _, i := range slices.Concat(c, q.drain()) {
		s.fail(ctx, i, ctxErr, t)
	}
	return nil
}

// failAll gives every address at idx the answer of a session refused
// outright (a 5xx before any recipient, or the same refusal of us to every
// recipient and the catch-all probe) or of a fatal dial error.
func (s *step) failAll(ctx context.Context, idx []int, err error, t *tries) {
	r := refusal(err)
	if r == nil {
		for _, i := range idx {
			s.fail(ctx, i, nil, t)
		}
		return
	}
	class, desc := smtpprobe.ClassifyAt(stageOf(err), r)
	for _, i := range idx {
		a := &s.answers[i]
		// Each answer gets its own failure: results do not share memory.
		a.Failure, a.Retry = replyFailure(r, class, desc)
		a.Failure.SessionWide = true
		a.LastReply = r.Error()
		a.Proxy, a.Final = t.proxy, ctx.Err() == nil
	}
}

// deferAll gives every address at idx the deferral that ended session r:
// a temporary failure, to be asked again after wait or later.
func (s *step) deferAll(ctx context.Context, idx []int, r sessionResult, wait time.Duration) {
	rep := deferral(r)
	class, desc := smtpprobe.ClassifyAt(stageOf(r.err), rep)
	_, stated := statedWait(rep)
	for _, i := range idx {
		a := &s.answers[i]
		a.Failure, a.Retry = replyFailure(rep, class, desc)
		if a.Retry != nil {
			a.Retry = &Retry{Kind: retry.Temporary, After: wait, Stated: stated, Reason: "the server deferred the domain"}
		}
		a.LastReply = rep.Error()
		a.Proxy, a.Final = r.proxy, ctx.Err() == nil
		s.held[i] = true
	}
}

// postponeAll gives every address at idx the limiter's postponement: not
// asked, to be asked from until on, when the MX host's politeness budget
// is booked for it. The retry policy always asks again then.
func (s *step) postponeAll(ctx context.Context, idx []int, until time.Time) {
	after := max(0, time.Until(until))
	for _, i := range idx {
		a := &s.answers[i]
		a.Failure = &Failure{Type: TypeAnyhow, Message: "politeness budget of the MX host booked until " + until.UTC().Format(time.RFC3339), Cause: CauseRateLimited}
		a.Retry = &Retry{Kind: retry.Postponed, After: after, Stated: true, Reason: "politeness", Until: until}
		a.Final = ctx.Err() == nil
	}
}

// fail ends the address at i with the tries' last error.
func (s *step) fail(ctx context.Context, i int, ctxErr error, t *tries) {
	a := &s.answers[i]
	a.Failure, a.Retry = failure(ctxErr, t.lastErr, s.rt.Timeout)
	if t.lastReply != "" {
		a.LastReply = t.lastReply
	}
	a.Proxy, a.Final = t.proxy, ctx.Err() == nil
}

// queue hands out the addresses of a pass to the sessions that ask them.
type queue struct {
	mu  sync.Mutex
	idx []int
}

// take removes and returns up to n addresses.
func (q *queue) take(n int) []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.idx))
	c := slices.Clone(q.idx[:n])
	q.idx = q.idx[n:]
	return c
}

// drain removes and returns every address left.
func (q *queue) drain() []int { return q.take(math.MaxInt) }
