package worker

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// keyedLimiter is one semaphore per key (a domain), created on first use
// and dropped when its last holder leaves, so the map only holds domains
// being worked on.
type keyedLimiter struct {
	n  int64
	mu sync.Mutex
	m  map[string]*keyedSem
}

type keyedSem struct {
	sem  *semaphore.Weighted
	refs int // holders and waiters
}

func newKeyedLimiter(n int64) *keyedLimiter {
	return &keyedLimiter{n: n, m: make(map[string]*keyedSem)}
}

// acquire takes one slot of key, waiting until one is free or ctx ends.
// On success the caller must call the returned release exactly once.
func (l *keyedLimiter) acquire(ctx context.Context, key string) (release func(), err error) {
	l.mu.Lock()
	ks := l.m[key]
	if ks == nil {
		ks = &keyedSem{sem: semaphore.NewWeighted(l.n)}
		l.m[key] = ks
	}
	ks.refs++
	l.mu.Unlock()
	if err := ks.sem.Acquire(ctx, 1); err != nil {
		l.leave(key, ks)
		return nil, err
	}
	return func() {
		ks.sem.Release(1)
		l.leave(key, ks)
	}, nil
}

func (l *keyedLimiter) leave(key string, ks *keyedSem) {
	l.mu.Lock()
	ks.refs--
	if ks.refs == 0 {
		delete(l.m, key)
	}
	l.mu.Unlock()
}

// size is the number of keys held, for tests.
func (l *keyedLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
