package worker

import (
	"context"
	"log/slog"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// Handle processes one received message: its verifications and storage
// run under work, and a probe starts only while start is alive (the two
// differ in the local runner, which lets started probes finish once
// shutdown begins). It logs what it could not do and says what becomes of
// the message; the queue adapter (the SQS Lambda handler, RunLocal) acts
// on it. d.Err, when set, is why the body did not decode.
func (w *Worker) Handle(work, start context.Context, d queue.Delivery) queue.Fate {
	log := w.deps.Logger.With("message_id", d.ID, "receive_count", d.ReceiveCount)
	if d.Err != nil {
		w.poison(start, log, d.Err)
		return queue.Reject
	}
	if start.Err() != nil {
		return queue.Again
	}
	rep, err := w.process(work, start, d.Message, d.ID)
	return w.finished(start, log, d.Message, rep, err)
}

// poison logs a message that cannot be decoded. Never the body: a request
// may carry a proxy password.
func (w *Worker) poison(ctx context.Context, log *slog.Logger, err error) {
	log.ErrorContext(ctx, "Poison message rejected; it will reach the dead-letter queue after maxReceiveCount", "reason", err)
	w.incErrors()
}

// finished logs the end of a message and says what becomes of it.
func (w *Worker) finished(ctx context.Context, log *slog.Logger, msg queue.Message, rep Report, err error) queue.Fate {
	log = log.With("job_id", msg.JobID)
	switch {
	case err != nil:
		// Only ErrBadRequest: the message can never succeed.
		log.ErrorContext(ctx, "Message rejected; it will reach the dead-letter queue after maxReceiveCount", "reason", err)
		w.incErrors()
		return queue.Reject
	case rep.Unfinished > 0:
		log.WarnContext(ctx, "Message unfinished; it will be delivered again",
			"done", rep.Done, "rescheduled", rep.Rescheduled, "unfinished", rep.Unfinished)
		return queue.Again
	}
	log.DebugContext(ctx, "Message processed", "done", rep.Done, "skipped", rep.Skipped, "rescheduled", rep.Rescheduled)
	return queue.Done
}
