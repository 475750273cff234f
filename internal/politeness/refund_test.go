package politeness_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/politeness"
)

// TestRefundUnsentRcpts checks that RCPTs a session announced but did not
// send cost the host's budget nothing: a session the server ended at once
// is followed by a full one without waiting.
func TestRefundUnsentRcpts(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		clk := newFakeClock()
		l := politeness.NewLocal(politeness.LocalConfig{RcptsPerMinute: 60, Burst: 10, Clock: clk})
		release, err := l.Acquire(context.Background(), "mx.test.", 10)
		if err != nil {
			t.Fatal(err)
		}
		release(1) // the server deferred the domain after one RCPT
		release, err = l.Acquire(context.Background(), "mx.test.", 9)
		if err != nil {
			t.Fatal(err)
		}
		release(9)
		if s := clk.Slept(); s > 0 {
			t.Errorf("waited %v for RCPTs that were given back", s)
		}
		// The budget itself is intact: ten more cost ten seconds.
		release, _ = l.Acquire(context.Background(), "mx.test.", 10)
		release(10)
		if s := clk.Slept(); s < 9*time.Second {
			t.Errorf("waited %v for 10 RCPTs over budget, want about 10s", s)
		}
	})
	t.Run("shared", func(t *testing.T) {
		clk := newFakeClock()
		s, err := politeness.NewShared(politeness.SharedConfig{Scheduler: politeness.NewMemoryScheduler(clk), RcptsPerMinute: 10, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			release, err := s.Acquire(context.Background(), "mx.test.", 10)
			if err != nil {
				t.Fatal(err)
			}
			release(0)
		}
		if sl := clk.Slept(); sl > 0 {
			t.Errorf("waited %v for RCPTs that were never sent", sl)
		}
	})
}

// TestDeferHoldsTheHost checks that a host that deferred us holds back
// every session to it until the time given, and that a caller whose
// deadline comes first is told at once.
func TestDeferHoldsTheHost(t *testing.T) {
	clk := newFakeClock()
	l := politeness.NewLocal(politeness.LocalConfig{RcptsPerMinute: politeness.Unlimited, Clock: clk})
	l.Defer("MX.Deferred.test.", clk.Now().Add(time.Minute))
	release, err := l.Acquire(context.Background(), "mx.deferred.test", 1)
	if err != nil {
		t.Fatal(err)
	}
	release(1)
	if s := clk.Slept(); s != time.Minute {
		t.Errorf("waited %v, want the minute the host asked for", s)
	}
	if release, err := l.Acquire(context.Background(), "other.test.", 1); err != nil {
		t.Fatal(err)
	} else {
		release(1)
	}
	if s := clk.Slept(); s != time.Minute {
		t.Errorf("another host waited too: %v slept in all", s)
	}

	l.Defer("mx.deferred.test.", clk.Now().Add(time.Hour))
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(time.Minute))
	defer cancel()
	if _, err := l.Acquire(ctx, "mx.deferred.test.", 1); !errors.Is(err, politeness.ErrDeferred) {
		t.Errorf("Acquire = %v, want ErrDeferred at once", err)
	}
}

// TestLocalPostpones: the in-process limiter postpones like Shared: the
// tokens of a session that would wait past the Deferral's MaxWait are
// taken as a credit, which the session spends when it comes back.
func TestLocalPostpones(t *testing.T) {
	clk := newFakeClock()
	l := politeness.NewLocal(politeness.LocalConfig{RcptsPerMinute: 60, Burst: 10, Clock: clk})
	d := politeness.NewDeferral(5*time.Second, nil)
	ctx := politeness.WithDeferral(context.Background(), d)
	release, err := l.Acquire(ctx, "mx.test.", 10) // the burst
	if err != nil {
		t.Fatal(err)
	}
	release(10)
	_, err = l.Acquire(ctx, "mx.test.", 30)
	var pe *politeness.PostponedError
	if !errors.As(err, &pe) || !pe.Until.Equal(clk.Now().Add(30*time.Second)) {
		t.Fatalf("Acquire = %v, want postponed by 30 s", err)
	}
	credits := d.Booked()
	if len(credits) != 1 || credits[0].RCPTs != 30 {
		t.Fatalf("credits %+v, want 30 RCPTs", credits)
	}
	clk.Sleep(context.Background(), 30*time.Second)
	before := clk.Slept()
	release, err = l.Acquire(politeness.WithDeferral(context.Background(), politeness.NewDeferral(5*time.Second, credits)), "mx.test.", 30)
	if err != nil {
		t.Fatal(err)
	}
	release(30)
	if clk.Slept() != before {
		t.Errorf("waited %v with the credit", clk.Slept()-before)
	}
}
