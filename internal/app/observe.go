package app

import (
	"context"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/queue/local"
)

// observeLimiter returns l reporting each session's politeness wait to
// ev; l itself when either is nil.
func observeLimiter(l engine.Limiter, ev metrics.Events) engine.Limiter {
	if l == nil || ev == nil {
		return l
	}
	return observedLimiter{l: l, ev: ev}
}

// observedLimiter times Acquire: the time a session waited for its slot,
// its RCPT budget and any deferral of one MX host.
type observedLimiter struct {
	l  engine.Limiter
	ev metrics.Events
}

// deferrer is the optional interface of limiters that hold back an MX
// host which asked us to slow down (see engine.Limiter).
type deferrer interface {
	Defer(mxHost string, until time.Time)
}

// Defer passes the deferral on when the wrapped limiter takes them, so
// that wrapping hides nothing from the engine.
func (o observedLimiter) Defer(mxHost string, until time.Time) {
	if d, ok := o.l.(deferrer); ok {
		d.Defer(mxHost, until)
	}
}

func (o observedLimiter) Acquire(ctx context.Context, mxHost string, rcpts int) (func(sent int), error) {
	start := time.Now()
	release, err := o.l.Acquire(ctx, mxHost, rcpts)
	if err == nil {
		o.ev.PolitenessWaited(mxHost, time.Since(start))
	}
	return release, err
}

// queueSampler feeds the queue gauges of /metrics from the embedded queue
// and its dead-letter queue.
type queueSampler struct{ q *local.Queue }

func (s queueSampler) SampleQueue(ctx context.Context) (metrics.QueueSample, error) {
	work, err := s.q.Stats(ctx)
	if err != nil {
		return metrics.QueueSample{}, err
	}
	dead, err := s.q.DeadLetter().Stats(ctx)
	if err != nil {
		return metrics.QueueSample{}, err
	}
	return metrics.QueueSample{
		Work:       queueState(work),
		DeadLetter: queueState(dead),
		// Work is sent without a delay, so the delayed messages of the
		// work queue are the retries (greylisted, temporarily failing,
		// unfinished). Dead letters wait for an operator, not a retry.
		RetriesWaiting: work.DelayedItems,
	}, nil
}

func queueState(s local.Stats) metrics.QueueState {
	return metrics.QueueState{Visible: s.Visible, Delayed: s.Delayed, InFlight: s.InFlight, OldestAge: s.OldestAge}
}
