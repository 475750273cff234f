package throttle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var base = time.Date(2025, 7, 26, 16, 13, 0, 0, time.UTC)

func TestLimiterWindows(t *testing.T) {
	tests := []struct {
		name      string
		limits    Limits
		start     time.Time
		n         int // requests at start
		wantOK    int
		wantWin   Window
		wantAfter time.Duration
		next      time.Time // first request here must pass again
	}{
		{"per second", Limits{PerSecond: 5}, base.Add(300 * time.Millisecond), 6, 5, Second, 700 * time.Millisecond, base.Add(time.Second)},
		{"per minute (61st refused)", Limits{PerMinute: 60}, base.Add(47700 * time.Millisecond), 61, 60, Minute, 12300 * time.Millisecond, base.Add(time.Minute)},
		{"per hour", Limits{PerHour: 3}, base, 4, 3, Hour, 47 * time.Minute, base.Add(47 * time.Minute)},
		{"per day", Limits{PerDay: 2}, base, 3, 2, Day, 24*time.Hour - 16*time.Hour - 13*time.Minute, base.Add(8*time.Hour - 13*time.Minute)},
		{"defaults: minute first", DefaultLimits(), base, 61, 60, Minute, time.Minute, base.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: tt.start}
			l := New(NewMemory(clk.Now), tt.limits, WithClock(clk.Now))
			ok := 0
			var last error
			for range tt.n {
				if err := l.Allow(context.Background()); err != nil {
					last = err
					continue
				}
				ok++
			}
			if ok != tt.wantOK {
				t.Fatalf("allowed %d, want %d", ok, tt.wantOK)
			}
			le, isLimit := IsLimit(last)
			if !isLimit {
				t.Fatalf("last error %v, want *LimitError", last)
			}
			if le.Window != tt.wantWin || le.RetryAfter != tt.wantAfter {
				t.Errorf("got window %s after %v, want %s after %v", le.Window, le.RetryAfter, tt.wantWin, tt.wantAfter)
			}
			clk.Set(tt.next)
			if err := l.Allow(context.Background()); err != nil {
				t.Errorf("first request of the next window: %v", err)
			}
		})
	}
}

func TestLimitErrorText(t *testing.T) {
	tests := []struct {
		err      LimitError
		want     string
		retryHdr int
	}{
		{LimitError{Window: Minute, RetryAfter: 12300 * time.Millisecond}, "Rate limit per minute exceeded, please wait 12.3s", 13},
		{LimitError{Window: Second, RetryAfter: 10 * time.Millisecond}, "Rate limit per second exceeded, please wait 0.0s", 1},
		{LimitError{Window: Day, RetryAfter: 2 * time.Hour}, "Rate limit per day exceeded, please wait 7200.0s", 7200},
		{LimitError{Window: Hour, RetryAfter: 59*time.Second + time.Nanosecond}, "Rate limit per hour exceeded, please wait 59.0s", 60},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if got := tt.err.RetryAfterSeconds(); got != tt.retryHdr {
				t.Errorf("RetryAfterSeconds() = %d, want %d", got, tt.retryHdr)
			}
		})
	}
}

// shortestFirst checks that a refused request does not consume the longer
// windows' allowance.
func TestRefusedRequestsDoNotBurnLongerWindows(t *testing.T) {
	clk := &clock{t: base}
	mem := NewMemory(clk.Now)
	l := New(mem, Limits{PerMinute: 2, PerDay: 3}, WithClock(clk.Now))
	for i := range 10 {
		err := l.Allow(context.Background())
		if (i < 2) != (err == nil) {
			t.Fatalf("request %d: err=%v", i, err)
		}
	}
	clk.Set(base.Add(time.Minute))
	if err := l.Allow(context.Background()); err != nil {
		t.Fatalf("day window should still have room: %v", err)
	}
	err := l.Allow(context.Background())
	if le, ok := IsLimit(err); !ok || le.Window != Day {
		t.Fatalf("got %v, want the day limit", err)
	}
}

func TestNoLimitsNeverCounts(t *testing.T) {
	var calls atomic.Int64
	l := New(counterFunc(func(context.Context, string, time.Time) (int64, error) {
		calls.Add(1)
		return 1, nil
	}), Limits{})
	for range 5 {
		if err := l.Allow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("counter called %d times, want 0", calls.Load())
	}
}

func TestCounterFailure(t *testing.T) {
	boom := errors.New("boom")
	l := New(counterFunc(func(context.Context, string, time.Time) (int64, error) { return 0, boom }), DefaultLimits())
	err := l.Allow(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want wrapped boom", err)
	}
	if _, ok := IsLimit(err); ok {
		t.Fatal("a counter failure must not look like a limit")
	}
}

func TestKeysAndExpiry(t *testing.T) {
	var got []string
	var exp []time.Time
	l := New(counterFunc(func(_ context.Context, k string, e time.Time) (int64, error) {
		got = append(got, k)
		exp = append(exp, e)
		return 1, nil
	}), Limits{PerSecond: 1, PerMinute: 1, PerHour: 1, PerDay: 1}, WithClock(func() time.Time { return base.Add(1500 * time.Millisecond) }))
	if err := l.Allow(context.Background()); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2025, 7, 26, 0, 0, 0, 0, time.UTC)
	want := []string{
		fmt.Sprintf("throttle:second:%d", base.Unix()+1),
		fmt.Sprintf("throttle:minute:%d", base.Unix()),
		fmt.Sprintf("throttle:hour:%d", base.Truncate(time.Hour).Unix()),
		fmt.Sprintf("throttle:day:%d", day.Unix()),
	}
	wantExp := []time.Time{base.Add(2 * time.Second), base.Add(time.Minute), base.Truncate(time.Hour).Add(time.Hour), day.Add(24 * time.Hour)}
	for i := range want {
		if got[i] != want[i] || !exp[i].Equal(wantExp[i]) {
			t.Errorf("window %d: key %q expires %v, want %q expires %v", i, got[i], exp[i], want[i], wantExp[i])
		}
	}
}

func TestMemoryConcurrent(t *testing.T) {
	clk := &clock{t: base}
	m := NewMemory(clk.Now)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := m.Incr(context.Background(), "k", base.Add(time.Hour)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	n, err := m.Incr(context.Background(), "k", base.Add(time.Hour))
	if err != nil || n != workers*each+1 {
		t.Fatalf("got %d, %v; want %d", n, err, workers*each+1)
	}
}

func TestMemoryExpiryAndSweep(t *testing.T) {
	clk := &clock{t: base}
	m := NewMemory(clk.Now)
	ctx := context.Background()
	if n, _ := m.Incr(ctx, "a", base.Add(time.Second)); n != 1 {
		t.Fatalf("first incr = %d", n)
	}
	clk.Set(base.Add(time.Second))
	if n, _ := m.Incr(ctx, "a", base.Add(2*time.Second)); n != 1 {
		t.Fatalf("incr after expiry = %d, want 1", n)
	}
	for i := range sweepEvery {
		_, _ = m.Incr(ctx, fmt.Sprint("old", i), base.Add(time.Second+time.Millisecond))
	}
	clk.Set(base.Add(time.Hour))
	for range sweepEvery {
		_, _ = m.Incr(ctx, "fresh", base.Add(2*time.Hour))
	}
	if got := m.Len(); got != 1 {
		t.Errorf("after sweep %d counters remain, want 1", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Incr(cctx, "a", base); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: got %v", err)
	}
}

type counterFunc func(ctx context.Context, key string, expires time.Time) (int64, error)

func (f counterFunc) Incr(ctx context.Context, key string, expires time.Time) (int64, error) {
	return f(ctx, key, expires)
}

func BenchmarkAllowMemory(b *testing.B) {
	l := New(NewMemory(nil), Limits{PerMinute: 1 << 30, PerDay: 1 << 30})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Allow(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
