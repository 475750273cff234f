package worker

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// HandleSQS is the handler of the SQS-triggered Lambda, configured with
// ReportBatchItemFailures. Records are processed concurrently; a record
// that is poison, unusable or unfinished is listed as a batch item failure
// so SQS delivers it again (and moves it to the dead-letter queue after
// maxReceiveCount), while the other records of the batch are deleted.
//
// The error is always nil: an error would make SQS retry the whole batch,
// good records included.
func (w *Worker) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ok := make([]bool, len(ev.Records))
	var g errgroup.Group
	g.SetLimit(w.cfg.Concurrency)
	for i, rec := range ev.Records {
		g.Go(func() error {
			ok[i] = w.handleRecord(ctx, rec)
			return nil
		})
	}
	_ = g.Wait() // the goroutines never fail
	var resp events.SQSEventResponse
	for i, rec := range ev.Records {
		if !ok[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// handleRecord reports whether the record is finished and may be deleted.
func (w *Worker) handleRecord(ctx context.Context, rec events.SQSMessage) bool {
	if ctx.Err() != nil {
		return false
	}
	receives, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	log := w.deps.Logger.With("message_id", rec.MessageId, "receive_count", receives)
	msg, err := queue.Decode([]byte(rec.Body))
	if err != nil {
		w.poison(ctx, log, err)
		return false
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

// finished logs the end of a message and reports whether it may be
// deleted.
func (w *Worker) finished(ctx context.Context, log *slog.Logger, msg queue.Message, rep Report, err error) bool {
	log = log.With("job_id", msg.JobID)
	switch {
	case err != nil:
		log.ErrorContext(ctx, "Message rejected; it will reach the dead-letter queue after maxReceiveCount", "reason", err)
		w.incErrors()
		return false
	case rep.Unfinished > 0:
		log.WarnContext(ctx, "Message unfinished; it will be delivered again",
			"done", rep.Done, "rescheduled", rep.Rescheduled, "unfinished", rep.Unfinished)
		return false
	}
	log.DebugContext(ctx, "Message processed", "done", rep.Done, "skipped", rep.Skipped, "rescheduled", rep.Rescheduled)
	return true
}
