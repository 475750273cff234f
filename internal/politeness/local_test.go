package politeness_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/politeness"
)

// fakeClock is a Clock whose Sleep returns at once and moves Now forward,
// so a rate limit shows as virtual time slept, without real waiting.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return nil
}

func (c *fakeClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// peak runs n goroutines that each hold a session of l at one of hosts
// (spellings of the same host) for a moment, and returns the most held at
// once.
func peak(t *testing.T, l interface {
	Acquire(context.Context, string, int) (func(int), error)
}, n int, hosts ...string) int {
	t.Helper()
	var active, most atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			release, err := l.Acquire(context.Background(), hosts[i%len(hosts)], 1)
			if err != nil {
				t.Error(err)
				return
			}
			a := active.Add(1)
			for m := most.Load(); a > m && !most.CompareAndSwap(m, a); m = most.Load() {
			}
			time.Sleep(time.Millisecond) // overlap with the others
			active.Add(-1)
			release(1)
		})
	}
	wg.Wait()
	return int(most.Load())
}

func TestLocalSessionCap(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			l := politeness.NewLocal(politeness.LocalConfig{SessionsPerHost: n, RcptsPerMinute: politeness.Unlimited})
			if got := peak(t, l, 40, "mx.example.test.", "MX.Example.TEST", "mx.example.test"); got > n || got < 1 {
				t.Errorf("peak sessions = %d, want 1..%d", got, n)
			}
		})
	}
	t.Run("hosts are independent", func(t *testing.T) {
		l := politeness.NewLocal(politeness.LocalConfig{SessionsPerHost: 1, RcptsPerMinute: politeness.Unlimited})
		r1, err1 := l.Acquire(context.Background(), "a.test.", 1)
		r2, err2 := l.Acquire(context.Background(), "b.test.", 1)
		if err1 != nil || err2 != nil {
			t.Fatalf("Acquire on two hosts: %v, %v", err1, err2)
		}
		r1(1)
		r2(1)
	})
}

func TestLocalRcptRate(t *testing.T) {
	tests := []struct {
		name            string
		perMin, burst   int
		sessions, rcpts int
		atLeast         time.Duration
	}{
		// 1 RCPT/s: everything beyond the burst costs a second each.
		{name: "burst 10", perMin: 60, burst: 10, sessions: 10, rcpts: 5, atLeast: 40 * time.Second},
		{name: "default burst", perMin: 60, sessions: 10, rcpts: 5, atLeast: 35 * time.Second},
		{name: "session larger than the burst", perMin: 60, burst: 10, sessions: 1, rcpts: 25, atLeast: 15 * time.Second},
		{name: "120 per minute", perMin: 120, burst: 2, sessions: 4, rcpts: 26, atLeast: 51 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			l := politeness.NewLocal(politeness.LocalConfig{RcptsPerMinute: tt.perMin, Burst: tt.burst, Clock: clk})
			for range tt.sessions {
				release, err := l.Acquire(context.Background(), "mx.test.", tt.rcpts)
				if err != nil {
					t.Fatal(err)
				}
				release(tt.rcpts)
			}
			if got := clk.Slept(); got < tt.atLeast {
				t.Errorf("waited %v for %d RCPTs, want at least %v", got, tt.sessions*tt.rcpts, tt.atLeast)
			}
		})
	}
}

func TestLocalCancelFreesTheSlot(t *testing.T) {
	l := politeness.NewLocal(politeness.LocalConfig{SessionsPerHost: 1, RcptsPerMinute: 1, Burst: 1})
	release, err := l.Acquire(context.Background(), "mx.test.", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx, "mx.test.", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire while the only slot is held, ctx cancelled: %v, want context.Canceled", err)
	}
	release(1)
	// The bucket is empty for a minute: the wait for tokens must end with
	// ctx, and give the slot back.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, "mx.test.", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire with an empty bucket: %v, want context.DeadlineExceeded", err)
	}
	release, err = l.Acquire(context.Background(), "mx.test.", 0)
	if err != nil {
		t.Fatalf("the slot was not given back: %v", err)
	}
	release(0)
	release(0) // a second call is harmless
}

func TestLocalBoundedHosts(t *testing.T) {
	clk := newFakeClock()
	l := politeness.NewLocal(politeness.LocalConfig{MaxHosts: 10, SessionsPerHost: 1, RcptsPerMinute: 60, Burst: 5, Clock: clk})
	held, err := l.Acquire(context.Background(), "held.test.", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		release, err := l.Acquire(context.Background(), fmt.Sprintf("mx%d.test.", i), 1)
		if err != nil {
			t.Fatal(err)
		}
		release(1)
		if i%7 == 0 {
			clk.Sleep(context.Background(), time.Minute) // buckets refill: free to forget
		}
	}
	if n := l.Hosts(); n > 10 {
		t.Errorf("%d hosts remembered, want at most 10", n)
	}
	// The held host was not forgotten: its only slot is still taken.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, "held.test.", 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second session at a held host: %v, want to wait until ctx ends", err)
	}
	held(1)
}
