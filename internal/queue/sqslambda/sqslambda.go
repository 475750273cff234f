// Package sqslambda is the adapter between Lambda's SQS event source and a
// message consumer (the worker): it turns an events.SQSEvent into queue
// deliveries, hands them to the consumer concurrently within the
// invocation's deadline, reports the records to deliver again as batch item
// failures (FunctionResponseTypes: ReportBatchItemFailures), and shortens
// their visibility timeout. The consumer knows nothing of SQS or Lambda.
package sqslambda

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/sqsq"
)

// Consumer handles one received message; *worker.Worker implements it.
// Work under work; start nothing new once start ends.
type Consumer interface {
	Handle(work, start context.Context, d queue.Delivery) queue.Fate
}

// VisibilityChanger sets when SQS delivers a received message again;
// *sqs.Client implements it.
type VisibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Defaults of Config.
const (
	DefaultConcurrency    = 20
	DefaultRedeliveryBase = 30 * time.Second
)

// Reserve is the time Handle keeps after its work ends and before the
// Lambda's deadline, for the visibility calls of the records it fails and
// for returning its response.
const Reserve = 3 * time.Second

// visibilityCallTimeout bounds one ChangeMessageVisibility call. The call
// is made even when the handler's context was cancelled (the Lambda is
// being stopped mid-batch): a message left alone waits the queue's whole
// visibility timeout. It still ends by the context's deadline, past which
// the function is killed anyway.
const visibilityCallTimeout = 5 * time.Second

// Config configures a Handler.
type Config struct {
	// QueueURL is the URL of the queue whose records the function
	// receives, for ChangeMessageVisibility.
	QueueURL string
	// Concurrency bounds the records handled at once (default
	// DefaultConcurrency).
	Concurrency int
	// RedeliveryBase is the first delay before SQS delivers a record
	// again; it doubles with each receive (see RedeliveryDelay).
	RedeliveryBase time.Duration
	// Visibility shortens the wait of the records Handle fails; nil leaves
	// them to the queue's visibility timeout.
	Visibility VisibilityChanger
	Logger     *slog.Logger
}

// Handler is the SQS-triggered Lambda's handler.
type Handler struct {
	cfg      Config
	consumer Consumer
}

// New returns a Handler that hands records to c.
func New(cfg Config, c Consumer) *Handler {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.RedeliveryBase <= 0 {
		cfg.RedeliveryBase = DefaultRedeliveryBase
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, consumer: c}
}

// Handle is the Lambda handler. Records are handled concurrently; a record
// that is poison, unusable or unfinished is listed as a batch item failure
// so SQS delivers it again (and moves it to the dead-letter queue after
// maxReceiveCount), while the other records of the batch are deleted.
// With Config.Visibility set, a failed record does not wait the queue's
// whole visibility timeout: an unfinished one comes back after
// RedeliveryDelay, a rejected one at once.
//
// The consumer works under a context that ends Reserve before ctx's
// deadline (the Lambda's), which leaves time for the visibility calls and
// for returning the response: a function killed at its deadline loses its
// response, and SQS then delivers the whole batch again.
//
// The error is always nil: an error would make SQS retry the whole batch,
// good records included.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	work, cancel := beforeDeadline(ctx, Reserve)
	defer cancel()
	fates := make([]queue.Fate, len(ev.Records))
	var g errgroup.Group
	g.SetLimit(h.cfg.Concurrency)
	for i, rec := range ev.Records {
		g.Go(func() error {
			d := sqsq.DeliveryOf(rec.MessageId, rec.Body, rec.ReceiptHandle, rec.Attributes["ApproximateReceiveCount"])
			fates[i] = h.consumer.Handle(work, work, d)
			if fates[i] != queue.Done {
				h.hold(ctx, rec, d.ReceiveCount, fates[i])
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines never fail
	var resp events.SQSEventResponse
	for i, rec := range ev.Records {
		if fates[i] != queue.Done {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// RedeliveryDelay is how long an unfinished record stays hidden after its
// receives-th receive (SQS's ApproximateReceiveCount, from 1):
// base·2^(receives-1), within [1 s, 15 min]: the first redelivery comes
// soon, and the doubling keeps a lasting failure (the store down) from
// costing a receive every base.
func RedeliveryDelay(base time.Duration, receives int) time.Duration {
	n := max(receives-1, 0)
	d := queue.MaxDelay
	if n < 32 && base < queue.MaxDelay>>n {
		d = base << n
	}
	return min(max(d, time.Second), queue.MaxDelay)
}

// hold sets the visibility of a record that is not done, so that SQS
// delivers it again after RedeliveryDelay (unfinished) or at once
// (rejected: it can never succeed, and each receive brings it closer to
// the dead-letter queue) instead of after the queue's visibility timeout,
// which is sized for the longest invocation. Without Config.Visibility,
// or for a record of another queue, it does nothing.
func (h *Handler) hold(ctx context.Context, rec events.SQSMessage, receives int, f queue.Fate) {
	log := h.cfg.Logger.With("message_id", rec.MessageId, "receive_count", receives)
	if h.cfg.Visibility == nil || rec.ReceiptHandle == "" {
		return
	}
	url, ok := h.queueURL(rec.EventSourceARN)
	if !ok {
		log.DebugContext(ctx, "Visibility left unchanged: the record is not from the configured queue", "source", rec.EventSourceARN)
		return
	}
	var hide time.Duration
	if f == queue.Again {
		hide = RedeliveryDelay(h.cfg.RedeliveryBase, receives)
	}
	cctx, cancel := detached(ctx, visibilityCallTimeout)
	defer cancel()
	_, err := h.cfg.Visibility.ChangeMessageVisibility(cctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(url),
		ReceiptHandle:     aws.String(rec.ReceiptHandle),
		VisibilityTimeout: int32(hide / time.Second),
	})
	if err != nil {
		log.WarnContext(ctx, "Visibility not changed; the message comes back after the queue's visibility timeout", "err", err)
		return
	}
	log.DebugContext(ctx, "Message hidden until its next delivery", "visibility_s", int64(hide/time.Second))
}

// queueURL is Config.QueueURL when the record's EventSourceARN
// (arn:partition:sqs:region:account:name) names that queue, or names
// none. The URL's last path element is the queue's name.
func (h *Handler) queueURL(arn string) (string, bool) {
	u := h.cfg.QueueURL
	if u == "" {
		return "", false
	}
	if arn == "" {
		return u, true
	}
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	return u, name == u[strings.LastIndexByte(u, '/')+1:]
}

// beforeDeadline returns a context that ends reserve before ctx's
// deadline, or with ctx if it has none.
func beforeDeadline(ctx context.Context, reserve time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-reserve))
	}
	return context.WithCancel(ctx)
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
