package politeness

import (
	"context"
	"sync"
	"time"
)

// sweepEvery is how many increments pass between two sweeps of expired
// keys, which keeps MemoryCounter's cost per call constant on average.
const sweepEvery = 1024

// MemoryCounter is a Counter in memory, for tests of Shared and of the
// code that uses it (the engine's tests among them, hence exported). No
// deployment uses it: one process gets Local, which needs no counter, and
// the Lambda functions share a DynamoDB counter. It is safe for concurrent
// use.
type MemoryCounter struct {
	clock Clock

	mu  sync.Mutex
	m   map[string]memEntry
	ops int
}

type memEntry struct {
	n       int64
	expires time.Time
}

// NewMemoryCounter returns an empty counter whose keys expire by clock
// (SystemClock when nil).
func NewMemoryCounter(clock Clock) *MemoryCounter {
	if clock == nil {
		clock = SystemClock{}
	}
	return &MemoryCounter{clock: clock, m: make(map[string]memEntry)}
}

// IncrBy implements Counter. An expired key starts again from 0.
func (c *MemoryCounter) IncrBy(_ context.Context, key string, n int64, expires time.Time) (int64, error) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops++; c.ops%sweepEvery == 0 {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
	}
	e := c.m[key]
	if !now.Before(e.expires) {
		e = memEntry{}
	}
	e.n += n
	if expires.After(e.expires) {
		e.expires = expires
	}
	c.m[key] = e
	return e.n, nil
}

// Len returns how many keys are held, expired ones not yet swept included.
func (c *MemoryCounter) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
