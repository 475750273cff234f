package worker

import (
	"context"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/internal/clock"
	"github.com/mailprobe/mailprobe/internal/queue"
)

// LocalQueue is the embedded queue of `mailprobe serve`, with SQS's
// semantics: delay, visibility timeout, receive count and dead-lettering.
// Receive decodes each body: a Delivery carries its Message, or the decode
// error in Err.
type LocalQueue interface {
	Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Delivery, error)
	Delete(ctx context.Context, d queue.Delivery) error
	Retry(ctx context.Context, d queue.Delivery, delay time.Duration) error
}

const (
	// receiveBatch is the most messages asked for at once, as with SQS.
	receiveBatch = 10
	// pollWait is the long-poll wait of one Receive.
	pollWait = time.Second
	// settleTimeout bounds the Delete or Retry of a message after
	// shutdown began, so the queue learns its fate before we exit.
	settleTimeout = 10 * time.Second
)

// RunLocal polls q and processes its messages until ctx ends, with the
// semantics of the SQS Lambda handler: a finished message is deleted, an unfinished or
// poison one is handed back with Retry (the queue dead-letters it after
// its maximum receive count; a poison one comes back at once).
//
// When ctx ends, RunLocal stops receiving and starts no new probe, lets
// the probes already running finish and store their results, hands the
// rest back to the queue, and returns nil once all of that is done.
func RunLocal(ctx context.Context, q LocalQueue, w *Worker) error {
	slots := make(chan struct{}, w.cfg.Concurrency) // messages in flight
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		n, ok := reserve(ctx, slots)
		if !ok {
			return nil
		}
		ds, err := q.Receive(ctx, n, pollWait)
		for range n - len(ds) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.deps.Logger.ErrorContext(ctx, "Local queue receive failed", "err", err)
			if clock.Sleep(ctx, pollWait) != nil {
				return nil
			}
			continue
		}
		for _, d := range ds {
			wg.Go(func() {
				defer func() { <-slots }()
				w.handleDelivery(ctx, q, d)
			})
		}
	}
}

// reserve waits for one free slot, then takes up to receiveBatch-1 more
// if they are free now.
func reserve(ctx context.Context, slots chan struct{}) (int, bool) {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return 0, false
	}
	n := 1
	for n < receiveBatch {
		select {
		case slots <- struct{}{}:
			n++
		default:
			return n, true
		}
	}
	return n, true
}

// handleDelivery processes one message. Probes and storage run under a
// context that outlives ctx, so a started probe is never cut short; ctx
// only gates the start of new probes.
func (w *Worker) handleDelivery(ctx context.Context, q LocalQueue, d queue.Delivery) {
	work := context.WithoutCancel(ctx)
	w.settleDelivery(work, q, d, w.Handle(work, ctx, d))
}

// settleDelivery deletes a done message and hands the others back: an
// unfinished one after RetryDelay, a rejected one at once, so that it
// reaches the dead-letter queue after the maximum receive count without
// waiting.
func (w *Worker) settleDelivery(ctx context.Context, q LocalQueue, d queue.Delivery, f queue.Fate) {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	var err error
	switch f {
	case queue.Done:
		err = q.Delete(ctx, d)
	case queue.Reject:
		err = q.Retry(ctx, d, 0)
	default:
		err = q.Retry(ctx, d, w.cfg.RetryDelay)
	}
	if err != nil {
		// The visibility timeout will bring the message back anyway.
		w.deps.Logger.ErrorContext(ctx, "Local queue update failed", "delete", f == queue.Done, "err", err)
	}
}
