package politeness_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/politeness"
)

// sent is a session's RCPTs and when they went.
type sent struct {
	at time.Time
	n  int
}

// worstMinute returns the most RCPTs any 60-second window saw.
func worstMinute(log []sent) int {
	most := 0
	for _, a := range log {
		n := 0
		for _, b := range log {
			if !b.at.Before(a.at) && b.at.Before(a.at.Add(time.Minute)) {
				n += b.n
			}
		}
		most = max(most, n)
	}
	return most
}

func TestSharedRcptRate(t *testing.T) {
	tests := []struct {
		name                 string
		limit, procs, rounds int
		rcpts                int
		atLeast              time.Duration
	}{
		{name: "three processes", limit: 10, procs: 3, rounds: 4, rcpts: 3, atLeast: 33 * 6 * time.Second},
		{name: "session larger than the limit", limit: 10, procs: 1, rounds: 2, rcpts: 25, atLeast: 150 * time.Second},
		{name: "fits a minute", limit: 60, procs: 2, rounds: 5, rcpts: 6, atLeast: 54 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			sched := politeness.NewMemoryScheduler(clk)
			procs := make([]*politeness.Shared, tt.procs)
			for i := range procs {
				s, err := politeness.NewShared(politeness.SharedConfig{Scheduler: sched, RcptsPerMinute: tt.limit, Clock: clk})
				if err != nil {
					t.Fatal(err)
				}
				procs[i] = s
			}
			var log []sent
			start := clk.Now()
			for range tt.rounds {
				for _, p := range procs {
					release, err := p.Acquire(context.Background(), "MX.Example.test.", tt.rcpts)
					if err != nil {
						t.Fatal(err)
					}
					log = append(log, sent{clk.Now(), tt.rcpts})
					release(tt.rcpts)
				}
			}
			if got := worstMinute(log); got > tt.limit+tt.rcpts {
				t.Errorf("a minute saw %d RCPTs, limit %d plus one session of %d", got, tt.limit, tt.rcpts)
			}
			// The last session starts when the others' bookings end.
			if got := clk.Now().Sub(start); got < tt.atLeast {
				t.Errorf("all RCPTs went within %v, want at least %v", got, tt.atLeast)
			}
		})
	}
}

type failingScheduler struct{ err error }

func (f failingScheduler) Reserve(context.Context, string, time.Duration, time.Time, time.Time) (time.Time, error) {
	return time.Time{}, f.err
}

func (f failingScheduler) Unreserve(context.Context, string, time.Time, time.Duration) error {
	return f.err
}

func TestSharedSchedulerFailure(t *testing.T) {
	boom := errors.New("table unavailable")
	s, err := politeness.NewShared(politeness.SharedConfig{Scheduler: failingScheduler{boom}, SessionsPerHost: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call proves the session slot was given back
		if _, err := s.Acquire(context.Background(), "mx.test.", 2); !errors.Is(err, boom) {
			t.Fatalf("Acquire = %v, want the scheduler's error", err)
		}
	}
	if _, err := politeness.NewShared(politeness.SharedConfig{}); err == nil {
		t.Error("NewShared without a scheduler succeeded")
	}
}

func TestSharedSessionCap(t *testing.T) {
	s, err := politeness.NewShared(politeness.SharedConfig{Scheduler: politeness.NewMemoryScheduler(nil),
		SessionsPerHost: 2, RcptsPerMinute: politeness.Unlimited})
	if err != nil {
		t.Fatal(err)
	}
	if got := peak(t, s, 30, "mx.test.", "MX.TEST"); got > 2 || got < 1 {
		t.Errorf("peak sessions = %d, want 1..2", got)
	}
}

// TestSharedPostpones: with a Deferral, a session whose budget is booked
// past MaxWait is not waited for: Acquire says until when, the booking
// stands as a credit, and the session that comes back with the credit
// spends it without booking again.
func TestSharedPostpones(t *testing.T) {
	clk := newFakeClock()
	sched := politeness.NewMemoryScheduler(clk)
	s, err := politeness.NewShared(politeness.SharedConfig{Scheduler: sched, RcptsPerMinute: 60, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	d := politeness.NewDeferral(5*time.Second, nil)
	ctx := politeness.WithDeferral(context.Background(), d)
	release, err := s.Acquire(ctx, "mx.big.test.", 50) // books 50 s from now
	if err != nil {
		t.Fatal(err)
	}
	release(50)
	_, err = s.Acquire(ctx, "mx.big.test.", 50)
	var pe *politeness.PostponedError
	if !errors.As(err, &pe) || !pe.Until.Equal(clk.Now().Add(50*time.Second)) {
		t.Fatalf("second Acquire = %v, want postponed by 50 s", err)
	}
	if clk.Slept() != 0 {
		t.Errorf("slept %v; a postponed session sleeps not at all", clk.Slept())
	}
	credits := d.Booked()
	if len(credits) != 1 || credits[0].RCPTs != 50 || credits[0].Host != "mx.big.test" || !credits[0].At.Equal(pe.Until) {
		t.Fatalf("credits %+v, want one of 50 RCPTs at %v", credits, pe.Until)
	}
	// A third session is booked after the postponed one.
	if _, err := s.Acquire(ctx, "mx.big.test.", 10); !errors.As(err, &pe) || !pe.Until.Equal(credits[0].At.Add(50*time.Second)) {
		t.Errorf("third Acquire = %v, want postponed after the second's booking", err)
	}
	// Back with the credit when it is due: no booking, no wait, even in
	// two sessions of 25.
	clk.Sleep(context.Background(), 50*time.Second)
	before := clk.Slept()
	back := politeness.WithDeferral(context.Background(), politeness.NewDeferral(5*time.Second, credits))
	for range 2 {
		release, err := s.Acquire(back, "MX.BIG.TEST.", 25)
		if err != nil {
			t.Fatalf("Acquire with the credit: %v", err)
		}
		release(25)
	}
	if clk.Slept() != before {
		t.Errorf("waited %v with a credit", clk.Slept()-before)
	}
	// The credit is spent: one more session is booked after the others.
	if _, err := s.Acquire(back, "mx.big.test.", 10); !errors.As(err, &pe) {
		t.Errorf("Acquire after the credit is spent = %v, want postponed", err)
	}
}

// TestSharedDeadline: without a Deferral, a booking that starts after
// ctx's deadline fails at once, saying when it would have started (the
// engine retries the addresses then), and is given back.
func TestSharedDeadline(t *testing.T) {
	clk := newFakeClock()
	s, err := politeness.NewShared(politeness.SharedConfig{Scheduler: politeness.NewMemoryScheduler(clk), RcptsPerMinute: 60, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	release, _ := s.Acquire(context.Background(), "mx.test.", 60)
	release(60)
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(10*time.Second))
	defer cancel()
	_, err = s.Acquire(ctx, "mx.test.", 10)
	var de *politeness.DeferredError
	if !errors.Is(err, politeness.ErrDeferred) || !errors.As(err, &de) || !de.RetryAt().Equal(clk.Now().Add(time.Minute)) {
		t.Errorf("Acquire = %v, want a *DeferredError until the first booking ends, a minute from now", err)
	}
	release, err = s.Acquire(context.Background(), "mx.test.", 10)
	if err != nil {
		t.Fatal(err)
	}
	release(10)
	if got := clk.Slept(); got != time.Minute {
		t.Errorf("waited %v, want the minute the first session booked (the failed booking given back)", got)
	}
}

func TestMemoryScheduler(t *testing.T) {
	clk := newFakeClock()
	c := politeness.NewMemoryScheduler(clk)
	ctx := context.Background()
	now := clk.Now()
	exp := now.Add(time.Hour)
	for i, want := range []time.Time{now, now.Add(3 * time.Second), now.Add(6 * time.Second)} {
		if got, _ := c.Reserve(ctx, "k", 3*time.Second, now, exp); !got.Equal(want) {
			t.Errorf("Reserve #%d starts %v, want %v", i, got, want)
		}
	}
	_ = c.Unreserve(ctx, "k", now.Add(6*time.Second), time.Second) // not the last booking: ignored
	_ = c.Unreserve(ctx, "k", now.Add(9*time.Second), 2*time.Second)
	if got, _ := c.Reserve(ctx, "k", time.Second, now, exp); !got.Equal(now.Add(7 * time.Second)) {
		t.Errorf("Reserve after a refund starts %v, want +7s", got)
	}
	later := now.Add(time.Minute)
	if got, _ := c.Reserve(ctx, "k", time.Second, later, exp); !got.Equal(later) {
		t.Errorf("Reserve after the bookings ended starts %v, want now", got)
	}
}
