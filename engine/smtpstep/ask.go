package smtpstep

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// ask asks about the addresses at idx: SessionsPerDomain workers take
// chunks from a shared queue until it is empty. Addresses that need
// SMTPUTF8 go in sessions of their own.
func (s *step) ask(ctx context.Context, idx []int) {
	ascii := slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return s.addrs[i].UTF8 })
	utf8 := slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return !s.addrs[i].UTF8 })
	for _, part := range [][]int{ascii, utf8} {
		if len(part) == 0 {
			continue
		}
		q := &queue{idx: part}
		workers := 1
		if s.batch {
			workers = min(s.env.SessionsPerDomain, len(part))
		}
		per := min(s.env.MaxRecipientsPerSession, (len(part)+workers-1)/workers)
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
// How a session ended decides what comes next (see next in retry.go): the
// rest of the chunk in a new session, the head address alone, another try
// at the next MX host, or an end for every address.
func (s *step) chunk(ctx context.Context, c []int, q *queue) {
	size, broken := len(c), 0
	t := s.newTries()
	for len(c) > 0 {
		if !t.left(ctx, s.rt, len(s.rt.Hosts)) {
			c = s.giveUp(ctx, c, q, t)
			t = s.newTries()
			continue
		}
		n := min(size, len(c))
		r := s.session(ctx, t, c[:n], backoff(broken, s.rt.Timeout))
		for i, rr := range r.out.Recipients {
			s.answer(c[i], rr, r)
		}
		c = c[len(r.out.Recipients):]
		switch next(r, n) {
		case nextChunk:
			size, broken, t = min(2*size, s.env.MaxRecipientsPerSession), 0, s.newTries()
		case nextReconnect:
			broken, t = broken+1, s.newTries()
		case nextEndAll:
			t.note(r)
			s.failAll(ctx, slices.Concat(c, q.drain()), r.err, t)
			return
		case nextHeadAlone:
			t.note(r)
			size, broken = 1, broken+1
		case nextTry:
			t.note(r)
			t.n, broken = t.n+1, 0
		}
	}
}

// giveUp ends the tries of the head of c with the last error, and returns
// the addresses still to ask. When no server greeted us, the failure is
// the hosts' or the proxy's, which every address of the domain would meet:
// all of c and of the queue get it.
func (s *step) giveUp(ctx context.Context, c []int, q *queue, t *tries) []int {
	ctxErr := ctx.Err()
	if ctxErr == nil && !time.Now().Before(t.deadline) {
		ctxErr = context.DeadlineExceeded
	}
	if t.greeted && ctx.Err() == nil {
		s.fail(ctx, c[0], ctxErr, t)
		return c[1:]
	}
	for _, i := range slices.Concat(c, q.drain()) {
		s.fail(ctx, i, ctxErr, t)
	}
	return nil
}

// failAll gives every address at idx the answer of a session refused
// outright (a 5xx before any recipient) or of a fatal dial error.
func (s *step) failAll(ctx context.Context, idx []int, err error, t *tries) {
	r := refusal(err)
	if r == nil {
		for _, i := range idx {
			s.fail(ctx, i, nil, t)
		}
		return
	}
	class, desc := smtpprobe.Classify(r)
	for _, i := range idx {
		a := &s.answers[i]
		// Each answer gets its own failure: results do not share memory.
		a.Failure, a.Retry = replyFailure(r, class, desc)
		a.LastReply = r.Error()
		a.Proxy, a.Final = t.proxy, ctx.Err() == nil
	}
}

// fail ends the address at i with the tries' last error.
func (s *step) fail(ctx context.Context, i int, ctxErr error, t *tries) {
	a := &s.answers[i]
	a.Failure, a.Retry = failure(ctxErr, t.lastErr)
	if t.lastReply != "" {
		a.LastReply = t.lastReply
	}
	a.Proxy, a.Final = t.proxy, ctx.Err() == nil
}

// answer records the server's reply about address i in session r. A reply
// is a fact even if ctx ends afterwards, so it is final.
func (s *step) answer(i int, rr smtpprobe.RecipientResult, r sessionResult) {
	a := &s.answers[i]
	a.Facts, a.Failure, a.Retry = judgeRecipient(rr)
	if rr.Reply != nil {
		a.LastReply = rr.Reply.Error()
	}
	a.Host, a.Proxy, a.Final = r.host, r.proxy, true
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
