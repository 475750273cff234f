package throttle

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Memory is an in-process Counter for `mailprobe serve` and tests. It is
// safe for concurrent use. Expired counters are dropped lazily: a read of an
// expired key starts again from zero, and a sweep of the whole map runs at
// most once per sweepEvery increments so the map stays bounded by the
// number of live windows.
type Memory struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]memEntry
	incrs   int
}

type memEntry struct {
	n       int64
	expires time.Time
}

// sweepEvery bounds the cost of dropping expired entries: one pass over the
// map per this many increments.
const sweepEvery = 1024

// NewMemory returns an empty in-memory counter that reads the time from now
// (nil means time.Now) to decide expiry.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, entries: make(map[string]memEntry)}
}

// Incr adds one to key and returns the new value. A counter whose expiry
// has passed counts from zero again.
func (m *Memory) Incr(ctx context.Context, key string, expires time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("throttle: incr %s: %w", key, err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.incrs++
	if m.incrs >= sweepEvery {
		m.incrs = 0
		for k, e := range m.entries {
			if !now.Before(e.expires) {
				delete(m.entries, k)
			}
		}
	}
	e, ok := m.entries[key]
	if !ok || !now.Before(e.expires) {
		e = memEntry{expires: expires}
	}
	e.n++
	m.entries[key] = e
	return e.n, nil
}

// Len returns the number of counters held, expired or not (for tests).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
