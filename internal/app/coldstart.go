package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/awscalls"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
)

// WorkerHandler is the SQS-triggered worker's Lambda handler.
type WorkerHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// ErrWorkerNotStarted is the function error of a batch the worker could
// not start for; the cause is in the function's log.
var ErrWorkerNotStarted = errors.New("the worker could not start (cold start failed; see the log): the batch comes back on the redelivery schedule")

// WorkerEntry is the worker function's handler for lambda.Start. It builds
// the worker (WorkerFunction) at once, in Lambda's init phase.
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
	c := &coldWorker{
		build:    func(ctx context.Context) (WorkerHandler, error) { return WorkerFunction(ctx, environ) },
		queueURL: getenv(environ, config.EnvQueueURL),
		base:     sqslambda.DefaultRedeliveryBase,
		logger:   NewLogger(os.Stderr, "info"),
	}
	// Its calls are recorded with the worker's, when a test asks.
	rec, _ := awscalls.Open(getenv(environ, awscalls.EnvRecord))
	if ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithAPIOptions(rec.APIOptions())); err == nil {
		c.vis = sqs.NewFromConfig(ac, endpoint[sqs.Options](getenv(environ, EnvSQSEndpoint)))
	}
	c.handler(ctx) // the first attempt, logged if it fails
	return c.handle
}

// visibilityChanger sets when SQS delivers a received message again;
// *sqs.Client implements it.
type visibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput,
		optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// coldWorker builds the worker handler until it succeeds.
type coldWorker struct {
	build    func(context.Context) (WorkerHandler, error)
	vis      visibilityChanger // nil: records keep the queue's timeout
	queueURL string            // MAILPROBE_QUEUE_URL as given
	base     time.Duration     // first redelivery delay
	logger   *slog.Logger

	mu sync.Mutex
	h  WorkerHandler
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
	for _, rec := range ev.Records {
		c.hold(ctx, rec)
	}
	return events.SQSEventResponse{}, ErrWorkerNotStarted
}

// hold hides a record until its next delivery on the redelivery schedule.
func (c *coldWorker) hold(ctx context.Context, rec events.SQSMessage) {
	if c.vis == nil || c.queueURL == "" || rec.ReceiptHandle == "" || !sameQueue(rec.EventSourceARN, c.queueURL) {
		return
	}
	receives, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	hide := sqslambda.RedeliveryDelay(c.base, max(receives, 1))
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.vis.ChangeMessageVisibility(cctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(c.queueURL), ReceiptHandle: aws.String(rec.ReceiptHandle),
		VisibilityTimeout: int32(hide / time.Second),
	}); err != nil {
		c.logger.WarnContext(ctx, "Visibility not changed; the message comes back after the queue's visibility timeout",
			"message_id", rec.MessageId, "err", err)
	}
}

// sameQueue reports whether an event source ARN (arn:…:sqs:region:account:
// name) names the queue of queueURL (…/account/name); an empty ARN does.
func sameQueue(arn, queueURL string) bool {
	if arn == "" {
		return true
	}
	return arn[strings.LastIndexByte(arn, ':')+1:] == queueURL[strings.LastIndexByte(queueURL, '/')+1:]
}
