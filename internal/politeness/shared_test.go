package politeness_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/politeness"
)

// windowLog records, per UTC minute of the fake clock, the RCPTs Acquire
// let through.
type windowLog struct {
	mu  sync.Mutex
	per map[time.Time]int
}

func (w *windowLog) add(t time.Time, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.per[t.Truncate(time.Minute)] += n
}

func TestSharedRcptWindow(t *testing.T) {
	tests := []struct {
		name                 string
		limit, procs, rounds int
		rcpts                int
		atLeastWindows       int
	}{
		{name: "three processes", limit: 10, procs: 3, rounds: 4, rcpts: 3, atLeastWindows: 3},
		{name: "session larger than the limit", limit: 10, procs: 1, rounds: 1, rcpts: 25, atLeastWindows: 2},
		{name: "fits one window", limit: 60, procs: 2, rounds: 5, rcpts: 6, atLeastWindows: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			counter := politeness.NewMemoryCounter(clk)
			procs := make([]*politeness.Shared, tt.procs)
			for i := range procs {
				s, err := politeness.NewShared(politeness.SharedConfig{Counter: counter, RcptsPerMinute: tt.limit, Clock: clk})
				if err != nil {
					t.Fatal(err)
				}
				procs[i] = s
			}
			log := &windowLog{per: map[time.Time]int{}}
			start := clk.Now()
			for range tt.rounds {
				for _, p := range procs {
					release, err := p.Acquire(context.Background(), "MX.Example.test.", tt.rcpts)
					if err != nil {
						t.Fatal(err)
					}
					log.add(clk.Now(), tt.rcpts)
					release(tt.rcpts)
				}
			}
			for w, n := range log.per {
				if n > tt.limit && tt.rcpts <= tt.limit {
					t.Errorf("window %v let %d RCPTs through, limit %d", w.Format(time.TimeOnly), n, tt.limit)
				}
			}
			if got := clk.Now().Sub(start); got < time.Duration(tt.atLeastWindows)*time.Minute {
				t.Errorf("all RCPTs went within %v, want at least %d windows later", got, tt.atLeastWindows)
			}
		})
	}
}

type failingCounter struct{ err error }

func (f failingCounter) IncrBy(context.Context, string, int64, time.Time) (int64, error) {
	return 0, f.err
}

func TestSharedCounterFailure(t *testing.T) {
	boom := errors.New("table unavailable")
	s, err := politeness.NewShared(politeness.SharedConfig{Counter: failingCounter{boom}, SessionsPerHost: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call proves the session slot was given back
		if _, err := s.Acquire(context.Background(), "mx.test.", 2); !errors.Is(err, boom) {
			t.Fatalf("Acquire = %v, want the counter's error", err)
		}
	}
	if _, err := politeness.NewShared(politeness.SharedConfig{}); err == nil {
		t.Error("NewShared without a counter succeeded")
	}
}

func TestSharedSessionCap(t *testing.T) {
	s, err := politeness.NewShared(politeness.SharedConfig{Counter: politeness.NewMemoryCounter(nil),
		SessionsPerHost: 2, RcptsPerMinute: politeness.Unlimited})
	if err != nil {
		t.Fatal(err)
	}
	if got := peak(t, s, 30, "mx.test.", "MX.TEST"); got > 2 || got < 1 {
		t.Errorf("peak sessions = %d, want 1..2", got)
	}
}

func TestMemoryCounterExpiry(t *testing.T) {
	clk := newFakeClock()
	c := politeness.NewMemoryCounter(clk)
	ctx := context.Background()
	exp := clk.Now().Add(time.Minute)
	for i, want := range []int64{3, 6} {
		if got, _ := c.IncrBy(ctx, "k", 3, exp); got != want {
			t.Errorf("IncrBy #%d = %d, want %d", i, got, want)
		}
	}
	if got, _ := c.IncrBy(ctx, "k", -2, exp); got != 4 {
		t.Errorf("IncrBy(-2) = %d, want 4", got)
	}
	clk.Sleep(ctx, time.Minute)
	if got, _ := c.IncrBy(ctx, "k", 1, clk.Now().Add(time.Minute)); got != 1 {
		t.Errorf("IncrBy after expiry = %d, want 1", got)
	}
}
