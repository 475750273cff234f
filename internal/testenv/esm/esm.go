// Package esm plays Lambda's SQS event source mapping in end-to-end tests:
// pollers long-poll the queue, hand each batch to a function instance as an
// SQS event, and delete the records the invocation did not report as failed
// (FunctionResponseTypes: ReportBatchItemFailures). Records of an invocation
// that failed outright are left to their visibility timeout, as in AWS. The
// queue's own RedrivePolicy moves a record to the dead-letter queue after
// maxReceiveCount receives.
package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/clock"
)

// Function is one function instance; *rie.Function implements it.
type Function interface {
	Call(ctx context.Context, event []byte) ([]byte, error)
}

// Invocation is what one poller did once: the event it sent, what came
// back and when.
type Invocation struct {
	Instance   int // index into Config.Functions
	Start, End time.Time
	Event      events.SQSEvent
	Response   events.SQSEventResponse
	Err        error
}

// Config configures Run.
type Config struct {
	SQS      *sqs.Client
	QueueURL string
	QueueARN string
	// BatchSize is the most records per event (default 10).
	BatchSize int
	// Window is the batching window: a poller keeps receiving until it
	// has BatchSize records or Window has passed since the first one.
	Window time.Duration
	// Functions are the instances; one poller runs per instance, so at
	// most len(Functions) invocations run at once (MaximumConcurrency).
	Functions []Function
	// Done, when set, is called after each invocation, from its poller.
	Done func(Invocation)
}

// pollWait is the long-poll wait of a receive.
const pollWait = time.Second

// Run polls until ctx ends and returns nil then; any other error is a
// failure of the emulated queue.
func Run(ctx context.Context, cfg Config) error {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 10
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cfg.Functions))
	for i, f := range cfg.Functions {
		wg.Go(func() { errs[i] = poll(ctx, cfg, i, f) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func poll(ctx context.Context, cfg Config, i int, f Function) error {
	for ctx.Err() == nil {
		ev, err := receive(ctx, cfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(ev.Records) == 0 {
			continue
		}
		inv := invoke(ctx, i, f, ev)
		if err := settle(context.WithoutCancel(ctx), cfg, inv); err != nil {
			return err
		}
		if cfg.Done != nil {
			cfg.Done(inv)
		}
	}
	return nil
}

// receive collects one batch within the batching window.
func receive(ctx context.Context, cfg Config) (events.SQSEvent, error) {
	var ev events.SQSEvent
	var first time.Time
	for len(ev.Records) < cfg.BatchSize {
		wait := int32(pollWait / time.Second)
		if len(ev.Records) > 0 {
			if time.Since(first) >= cfg.Window {
				break
			}
			wait = 0
		}
		out, err := cfg.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(cfg.QueueURL), MaxNumberOfMessages: int32(cfg.BatchSize - len(ev.Records)),
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return ev, fmt.Errorf("esm: receive: %w", err)
		}
		if len(out.Messages) == 0 {
			if len(ev.Records) == 0 {
				return ev, nil
			}
			if err := clock.Sleep(ctx, min(cfg.Window/10+time.Millisecond, 100*time.Millisecond)); err != nil {
				return ev, nil
			}
			continue
		}
		if len(ev.Records) == 0 {
			first = time.Now()
		}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, record(cfg, m))
		}
	}
	return ev, nil
}

func record(cfg Config, m types.Message) events.SQSMessage {
	return events.SQSMessage{
		MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes,
		EventSource: "aws:sqs", EventSourceARN: cfg.QueueARN, AWSRegion: "us-east-1",
	}
}

func invoke(ctx context.Context, i int, f Function, ev events.SQSEvent) Invocation {
	inv := Invocation{Instance: i, Start: time.Now(), Event: ev}
	body, err := json.Marshal(ev)
	if err == nil {
		var out []byte
		if out, err = f.Call(ctx, body); err == nil {
			err = decode(out, &inv.Response)
		}
	}
	inv.End, inv.Err = time.Now(), err
	return inv
}

// decode reads a handler's answer; a function error (the runtime's
// {"errorMessage", "errorType"}) is an error.
func decode(out []byte, resp *events.SQSEventResponse) error {
	var v struct {
		events.SQSEventResponse
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Errorf("esm: function answered %.200s: %w", out, err)
	}
	if v.ErrorType != "" || v.ErrorMessage != "" {
		return fmt.Errorf("esm: function error %s: %s", v.ErrorType, v.ErrorMessage)
	}
	*resp = v.SQSEventResponse
	return nil
}

// settle deletes the records the invocation finished: all but the
// reported failures, or none when the invocation itself failed.
func settle(ctx context.Context, cfg Config, inv Invocation) error {
	if inv.Err != nil {
		return nil
	}
	failed := make(map[string]bool)
	for _, f := range inv.Response.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var entries []types.DeleteMessageBatchRequestEntry
	for k, r := range inv.Event.Records {
		if !failed[r.MessageId] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(k)), ReceiptHandle: aws.String(r.ReceiptHandle)})
		}
	}
	if len(entries) == 0 {
		return nil
	}
	out, err := cfg.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(cfg.QueueURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("esm: delete: %w", err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("esm: delete: %d entries failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
	}
	return nil
}
