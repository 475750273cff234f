package politeness

import (
	"context"
	"sync"
	"time"
)

// WaitMeter is a Clock that measures how long its Sleeps keep the process
// waiting: the union of the sleeping intervals, so that sessions waiting at
// the same time count once. The Lambda worker logs it per invocation, since
// waiting inside an invocation is billed time. It is safe for concurrent
// use.
type WaitMeter struct {
	Clock // the clock that sleeps; SystemClock when nil

	mu       sync.Mutex
	sleeping int
	since    time.Time
	total    time.Duration
}

// Sleep sleeps on the inner clock and meters the time.
func (m *WaitMeter) Sleep(ctx context.Context, d time.Duration) error {
	m.mu.Lock()
	if m.sleeping == 0 {
		m.since = time.Now()
	}
	m.sleeping++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.sleeping--
		if m.sleeping == 0 {
			m.total += time.Since(m.since)
		}
		m.mu.Unlock()
	}()
	return m.inner().Sleep(ctx, d)
}

// Now reads the inner clock.
func (m *WaitMeter) Now() time.Time { return m.inner().Now() }

func (m *WaitMeter) inner() Clock {
	if m.Clock == nil {
		return SystemClock{}
	}
	return m.Clock
}

// Take returns the time spent sleeping since the previous Take (a sleep in
// progress counts up to now) and starts a new measurement.
func (m *WaitMeter) Take() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.total
	if m.sleeping > 0 {
		now := time.Now()
		t += now.Sub(m.since)
		m.since = now
	}
	m.total = 0
	return t
}
