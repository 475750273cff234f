package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
)

// WorkerHandler is the SQS-triggered worker's Lambda handler.
type WorkerHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// ErrWorkerNotStarted is the function error of a batch the worker could
// not start for; the cause is in the function's log.
var ErrWorkerNotStarted = errors.New("the worker could not start (cold start failed; see the log): the batch comes back on the redelivery schedule")

// WorkerEntry is the worker function's handler for lambda.Start. It builds
// the worker at once, in Lambda's init phase.
//
// A start that fails (a secret that cannot be read, an invalid setting)
// does not end the process. If it did, every batch would fail its init and
// SQS would hide each message for the queue's whole visibility timeout
// (1805 s) per receive: about 5 h of silence before the dead-letter queue.
// Instead, while the start fails, each batch tries it again (a passing
// fault heals by itself), sets every record's visibility on the worker's
// redelivery schedule (30 s, doubling, at most 15 min) and returns an
// error, which counts in the function's Errors metric and fires its alarm
// within minutes.
func WorkerEntry(ctx context.Context, environ []string) WorkerHandler {
	// One SDK configuration for the worker and for the visibility calls
	// of a failed start.
	sdk, sdkErr := awsConfig(ctx, environ)
	var vis sqslambda.VisibilityChanger
	if sdkErr == nil {
		vis = sqs.NewFromConfig(sdk, endpoint[sqs.Options](getenv(environ, EnvSQSEndpoint)))
	}
	build := func(ctx context.Context) (WorkerHandler, error) {
		if sdkErr != nil {
			return nil, sdkErr
		}
		return workerFunction(ctx, environ, sdk)
	}
	c := newColdWorker(build, vis, getenv(environ, config.EnvQueueURL), sqslambda.DefaultRedeliveryBase, NewLogger(os.Stderr, "info"))
	c.handler(ctx) // the first attempt, logged if it fails
	return c.handle
}

// coldWorker builds the worker handler until it succeeds.
type coldWorker struct {
	build  func(context.Context) (WorkerHandler, error)
	held   *sqslambda.Handler // while the worker cannot start
	logger *slog.Logger

	mu sync.Mutex
	h  WorkerHandler
}

// newColdWorker returns a coldWorker whose failed batches come back on the
// SQS adapter's redelivery schedule from base: their records of queueURL
// are hidden through vis (nil: they keep the queue's visibility timeout).
func newColdWorker(build func(context.Context) (WorkerHandler, error), vis sqslambda.VisibilityChanger,
	queueURL string, base time.Duration, logger *slog.Logger) *coldWorker {
	held := sqslambda.New(sqslambda.Config{QueueURL: queueURL, RedeliveryBase: base, Visibility: vis, Logger: logger}, notStarted{})
	return &coldWorker{build: build, held: held, logger: logger}
}

// notStarted stands in for the worker that could not start: every record
// is to be delivered again.
type notStarted struct{}

func (notStarted) Handle(context.Context, context.Context, queue.Delivery) queue.Fate {
	return queue.Again
}

// handler returns the worker handler, building it if no attempt has
// succeeded yet.
func (c *coldWorker) handler(ctx context.Context) (WorkerHandler, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		return c.h, nil
	}
	h, err := c.build(ctx)
	if err != nil {
		// The same JSON as every other line, so a log filter finds it.
		c.logger.ErrorContext(ctx, "cold start failed", "error", err)
		return nil, err
	}
	c.h = h
	return h, nil
}

func (c *coldWorker) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	h, err := c.handler(ctx)
	if err == nil {
		return h(ctx, ev)
	}
	// Every record's visibility is set on the redelivery schedule; the
	// error fails the whole batch.
	_, _ = c.held.Handle(ctx, ev)
	return events.SQSEventResponse{}, ErrWorkerNotStarted
}
