package worker

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// VisibilityChanger sets when SQS delivers a received message again;
// *sqs.Client implements it.
type VisibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// DefaultRedeliveryBase is the first redelivery delay of an unfinished
// message (Config.RedeliveryBase).
const DefaultRedeliveryBase = 30 * time.Second

// visibilityCallTimeout bounds one ChangeMessageVisibility call. The call
// is made even when the handler's context was cancelled (the Lambda is
// being stopped mid-batch): a message left alone waits the queue's whole
// visibility timeout. It still ends by the context's deadline, past which
// the function is killed anyway.
const visibilityCallTimeout = 5 * time.Second

// RedeliveryDelay is how long an unfinished message stays hidden after its
// receives-th receive (SQS's ApproximateReceiveCount, from 1):
// base·2^(receives-1), within [MinDelay, MaxDelay]. The items of such a
// message wait for politeness slots or for time, not for a failing server,
// so the first redelivery comes soon; the doubling keeps a long wait (an MX
// host whose RCPT budget is spent by many messages) from costing a
// receive every base.
func RedeliveryDelay(base time.Duration, receives int) time.Duration {
	return Backoff(base, receives-1, 0)
}

// holdRecord sets the visibility of a record that is not done, so that
// SQS delivers it again after RedeliveryDelay (unfinished) or at once
// (rejected: it can never succeed, and each receive brings it closer to
// the dead-letter queue) instead of after the queue's visibility timeout,
// which is sized for the longest invocation (1805 s). Without
// Deps.Visibility, or for a record of another queue, it does nothing.
func (w *Worker) holdRecord(ctx context.Context, log *slog.Logger, rec events.SQSMessage, receives int, f fate) {
	if w.deps.Visibility == nil || rec.ReceiptHandle == "" {
		return
	}
	url, ok := w.queueURL(rec.EventSourceARN)
	if !ok {
		log.DebugContext(ctx, "Visibility left unchanged: the record is not from the configured queue", "source", rec.EventSourceARN)
		return
	}
	var hide time.Duration
	if f == fateAgain {
		hide = RedeliveryDelay(w.cfg.RedeliveryBase, receives)
	}
	cctx, cancel := detached(ctx, visibilityCallTimeout)
	defer cancel()
	_, err := w.deps.Visibility.ChangeMessageVisibility(cctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(url),
		ReceiptHandle:     aws.String(rec.ReceiptHandle),
		VisibilityTimeout: int32(hide / time.Second),
	})
	if err != nil {
		log.WarnContext(ctx, "Visibility not changed; the message comes back after the queue's visibility timeout", "err", err)
		w.incErrors()
		return
	}
	log.DebugContext(ctx, "Message hidden until its next delivery", "visibility_s", int64(hide/time.Second))
}

// queueURL is Config.QueueURL when the record's EventSourceARN
// (arn:partition:sqs:region:account:name) names that queue, or names
// none. The URL's last path element is the queue's name.
func (w *Worker) queueURL(arn string) (string, bool) {
	u := w.cfg.QueueURL
	if u == "" {
		return "", false
	}
	if arn == "" {
		return u, true
	}
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	return u, name == u[strings.LastIndexByte(u, '/')+1:]
}

// detached returns a context that outlives ctx's cancellation but not its
// deadline, and ends after timeout at the latest.
func detached(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	end := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(end) {
		end = dl
	}
	return context.WithDeadline(context.WithoutCancel(ctx), end)
}
