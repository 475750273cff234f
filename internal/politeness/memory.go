package politeness

import (
	"context"
	"sync"
	"time"
)

// sweepEvery is how many bookings pass between two sweeps of expired
// keys, which keeps MemoryScheduler's cost per call constant on average.
const sweepEvery = 1024

// MemoryScheduler is a Scheduler in memory, for tests of Shared and of the
// code that uses it (the engine's tests among them, hence exported). No
// deployment uses it: one process gets Local, which needs none, and the
// Lambda functions share the DynamoDB store's. It is safe for concurrent
// use.
type MemoryScheduler struct {
	clock Clock

	mu  sync.Mutex
	m   map[string]memEntry
	ops int
}

type memEntry struct {
	end     time.Time // when the last booking ends
	expires time.Time
}

// NewMemoryScheduler returns an empty scheduler whose keys expire by
// clock (SystemClock when nil).
func NewMemoryScheduler(clock Clock) *MemoryScheduler {
	if clock == nil {
		clock = SystemClock{}
	}
	return &MemoryScheduler{clock: clock, m: make(map[string]memEntry)}
}

// Reserve implements Scheduler.
func (c *MemoryScheduler) Reserve(_ context.Context, key string, cost time.Duration, now, expires time.Time) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops++; c.ops%sweepEvery == 0 {
		for k, e := range c.m {
			if !c.clock.Now().Before(e.expires) {
				delete(c.m, k)
			}
		}
	}
	e := c.m[key]
	start := now
	if e.end.After(now) {
		start = e.end
	}
	e.end = start.Add(cost)
	if expires.After(e.expires) {
		e.expires = expires
	}
	c.m[key] = e
	return start, nil
}

// Unreserve implements Scheduler.
func (c *MemoryScheduler) Unreserve(_ context.Context, key string, end time.Time, back time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.end.Equal(end) {
		e.end = end.Add(-back)
		c.m[key] = e
	}
	return nil
}

// Len returns how many keys are held, expired ones not yet swept included.
func (c *MemoryScheduler) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
