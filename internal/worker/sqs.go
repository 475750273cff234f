package worker

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// handlerReserve is the time HandleSQS keeps after its work ends and
// before the Lambda's deadline, for the visibility calls of the records
// it fails and for returning its response.
const handlerReserve = 3 * time.Second

// fate is what becomes of a received message.
type fate int

const (
	// fateDone: every item is settled; the message may be deleted.
	fateDone fate = iota
	// fateAgain: items are unfinished (no slot, no time, a store
	// failure); the message is delivered again soon.
	fateAgain
	// fateReject: the message can never succeed (poison body, unusable
	// request options); it is delivered again at once so that it reaches
	// the dead-letter queue after maxReceiveCount without waiting.
	fateReject
)

// HandleSQS is the handler of the SQS-triggered Lambda, configured with
// ReportBatchItemFailures. Records are processed concurrently; a record
// that is poison, unusable or unfinished is listed as a batch item failure
// so SQS delivers it again (and moves it to the dead-letter queue after
// maxReceiveCount), while the other records of the batch are deleted.
//
// With Deps.Visibility set, a failed record does not wait the queue's whole
// visibility timeout: an unfinished one comes back after RedeliveryDelay,
// a rejected one at once (see holdRecord).
//
// Verification, storage and webhooks run under a context that ends
// handlerReserve before ctx's deadline (the Lambda's), which leaves time
// for the visibility calls and for returning the response: a function
// killed at its deadline loses its response, and SQS then delivers the
// whole batch again.
//
// The error is always nil: an error would make SQS retry the whole batch,
// good records included.
func (w *Worker) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	work, cancel := beforeDeadline(ctx, handlerReserve)
	defer cancel()
	fates := make([]fate, len(ev.Records))
	var g errgroup.Group
	g.SetLimit(w.cfg.Concurrency)
	for i, rec := range ev.Records {
		g.Go(func() error {
			fates[i] = w.handleRecord(ctx, work, rec)
			return nil
		})
	}
	_ = g.Wait() // the goroutines never fail
	var resp events.SQSEventResponse
	for i, rec := range ev.Records {
		if fates[i] != fateDone {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// handleRecord processes one record under work and, unless it is done,
// sets when it is delivered again, within ctx's deadline.
func (w *Worker) handleRecord(ctx, work context.Context, rec events.SQSMessage) fate {
	receives, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	log := w.deps.Logger.With("message_id", rec.MessageId, "receive_count", receives)
	f := w.processRecord(work, log, rec)
	if f != fateDone {
		w.holdRecord(ctx, log, rec, receives, f)
	}
	return f
}

func (w *Worker) processRecord(ctx context.Context, log *slog.Logger, rec events.SQSMessage) fate {
	if ctx.Err() != nil {
		return fateAgain
	}
	msg, err := queue.Decode([]byte(rec.Body))
	if err != nil {
		w.poison(ctx, log, err)
		return fateReject
	}
	rep, err := w.Process(ctx, msg)
	return w.finished(ctx, log, msg, rep, err)
}

// poison logs a message that cannot be decoded. Never the body: a request
// may carry a proxy password.
func (w *Worker) poison(ctx context.Context, log *slog.Logger, err error) {
	log.ErrorContext(ctx, "Poison message rejected; it will reach the dead-letter queue after maxReceiveCount", "reason", err)
	w.incErrors()
}

// finished logs the end of a message and says what becomes of it.
func (w *Worker) finished(ctx context.Context, log *slog.Logger, msg queue.Message, rep Report, err error) fate {
	log = log.With("job_id", msg.JobID)
	switch {
	case err != nil:
		// Only ErrBadRequest: the message can never succeed.
		log.ErrorContext(ctx, "Message rejected; it will reach the dead-letter queue after maxReceiveCount", "reason", err)
		w.incErrors()
		return fateReject
	case rep.Unfinished > 0:
		log.WarnContext(ctx, "Message unfinished; it will be delivered again",
			"done", rep.Done, "rescheduled", rep.Rescheduled, "unfinished", rep.Unfinished)
		return fateAgain
	}
	log.DebugContext(ctx, "Message processed", "done", rep.Done, "skipped", rep.Skipped, "rescheduled", rep.Rescheduled)
	return fateDone
}
