package cli

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/politeness"
	"github.com/mailprobe/mailprobe/internal/queue"
)

// batchVerifier checks many addresses over shared SMTP sessions;
// *engine.Verifier implements it.
type batchVerifier interface {
	VerifyBatch(ctx context.Context, reqs []engine.Request) ([]engine.Result, error)
}

// lister checks a list the way the queue worker checks a bulk job: the
// addresses of a domain together, over shared SMTP sessions, domains side
// by side (so a slow domain costs its own time only), and every address
// asked again as the retry policy says until its result is final. All its
// checks are one job: a domain is probed for catch-all with one address.
type lister struct {
	v       batchVerifier
	policy  retry.Policy
	domains int // domains checked at once
	job     string
	clock   politeness.Clock
}

func newLister(v batchVerifier, policy retry.Policy, domains int) *lister {
	return &lister{v: v, policy: policy, domains: domains, job: "cli-" + rand.Text(),
		clock: politeness.SystemClock{}}
}

// run checks emails and hands each final result to done (from several
// goroutines, each index once). The error is non-nil only when ctx ended.
func (l *lister) run(ctx context.Context, emails []string, done func(i int, r engine.Result), w waiting) error {
	slots := semaphore.NewWeighted(int64(l.domains))
	g, gctx := errgroup.WithContext(ctx)
	for _, idx := range byDomain(emails) {
		g.Go(func() error { return l.domain(gctx, slots, emails, idx, done, w) })
	}
	return g.Wait()
}

// byDomain groups the indices of emails by domain (the lower-cased text
// after the last '@'), in order of first appearance.
func byDomain(emails []string) [][]int {
	var groups [][]int
	pos := map[string]int{}
	for i, e := range emails {
		d := queue.Domain(e)
		k, ok := pos[d]
		if !ok {
			k = len(groups)
			pos[d] = k
			groups = append(groups, nil)
		}
		groups[k] = append(groups[k], i)
	}
	return groups
}

// pending is an address of a domain waiting for its next check.
type pending struct {
	i       int
	due     time.Time
	history retry.History
	avoid   string // proxy of a failed connection
}

// domain checks the addresses at idx, all of one domain, until every one
// has a final result. It holds a slot only while checking, not while
// waiting for a retry.
func (l *lister) domain(ctx context.Context, slots *semaphore.Weighted, emails []string, idx []int,
	done func(int, engine.Result), w waiting) error {
	todo := make([]pending, len(idx))
	for k, i := range idx {
		todo[k] = pending{i: i}
	}
	for len(todo) > 0 {
		now, batch := l.clock.Now(), dueFirst(todo)
		if err := l.clock.Sleep(ctx, batch[0].due.Sub(now)); err != nil {
			return err
		}
		if err := slots.Acquire(ctx, 1); err != nil {
			return err
		}
		results, err := l.v.VerifyBatch(ctx, l.requests(emails, batch))
		slots.Release(1)
		if err != nil {
			return err // only an ended ctx: the results are not final
		}
		todo = todo[len(batch):]
		for k, p := range batch {
			next, again := l.decide(p, results[k])
			if !again {
				done(p.i, results[k])
				continue
			}
			todo = append(todo, next)
		}
		w.set(todo)
	}
	return nil
}

// dueFirst sorts todo by due time and returns its head: the addresses due
// within a second of the first, which are checked together.
func dueFirst(todo []pending) []pending {
	slices.SortStableFunc(todo, func(a, b pending) int { return a.due.Compare(b.due) })
	n := 1
	for n < len(todo) && todo[n].due.Sub(todo[0].due) < time.Second {
		n++
	}
	return todo[:n]
}

func (l *lister) requests(emails []string, batch []pending) []engine.Request {
	reqs := make([]engine.Request, len(batch))
	for k, p := range batch {
		reqs[k] = engine.Request{ToEmail: emails[p.i], JobID: l.job, AvoidProxy: p.avoid}
	}
	return reqs
}

// decide asks the retry policy about result r of p.
func (l *lister) decide(p pending, r engine.Result) (pending, bool) {
	if r.Retry == nil {
		return p, false
	}
	d := l.policy.Decide(p.history, r.Retry.Outcome(l.clock.Now()))
	if !d.Retry {
		return p, false
	}
	next := pending{i: p.i, due: d.At, history: d.History}
	if r.Retry.Kind == retry.Connection {
		next.avoid = r.Retry.Proxy
	}
	return next, true
}

// waiting tracks the addresses that wait for a retry, for the progress line.
type waiting interface {
	set(todo []pending)
}

// retryBoard is the waiting addresses of every domain.
type retryBoard struct {
	mu  sync.Mutex
	due map[int]time.Time // address index → due
}

func newRetryBoard() *retryBoard { return &retryBoard{due: map[int]time.Time{}} }

// set replaces a domain's waiting addresses (todo holds only that domain's).
func (b *retryBoard) set(todo []pending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range todo {
		b.due[p.i] = p.due
	}
}

// forget drops a concluded address.
func (b *retryBoard) forget(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.due, i)
}

// next returns how many addresses wait and the earliest due time.
func (b *retryBoard) next() (int, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var first time.Time
	for _, d := range b.due {
		if first.IsZero() || d.Before(first) {
			first = d
		}
	}
	return len(b.due), first
}
