// Package esm plays Lambda's SQS event source mapping, for lambda-local
// (make run-lambda) and for the end-to-end tests that run the worker's
// bootstrap under the Lambda RIE: a Mapping long-polls a queue, gathers
// batches within the batching window, hands each to an execution
// environment of the function as an SQS event, and deletes what succeeded:
// every record after a success, none after a function error, a timeout or
// a crash, and with ReportBatchItemFailures all but the reported ones.
// Records not deleted come back when their visibility timeout ends, and the
// queue's own RedrivePolicy moves them to the dead-letter queue after
// maxReceiveCount receives.
package esm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/clock"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

// SQS API limits the mapping works within.
const (
	maxReceive   = 10               // messages per ReceiveMessage
	longPoll     = 20 * time.Second // the longest ReceiveMessage wait
	retryPause   = time.Second      // after a failed ReceiveMessage
	deleteBatch  = 10               // entries per DeleteMessageBatch
	defaultBatch = 10               // Lambda's default BatchSize for SQS
)

// SQSAPI is the part of the SQS client a Mapping uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Function hands out the execution environments of the function a Mapping
// feeds: lambda-local's pool, which starts and replaces them, or a test's
// fixed ones (Instances).
type Function interface {
	Acquire(ctx context.Context) (Instance, error)
}

// Instance is one execution environment, which runs one invocation at a
// time.
type Instance interface {
	Name() string // for the log: SqsWorkerFunction#2
	Invoke(ctx context.Context, event []byte) rie.Result
	// Release gives the environment back; an unhealthy one (it timed out
	// or crashed, see rie.Result.Healthy) is replaced.
	Release(healthy bool)
}

// Mapping is one SQS event source mapping.
type Mapping struct {
	SQS      SQSAPI
	QueueURL string
	QueueARN string // the records' eventSourceARN
	// BatchSize is the most records per event (default 10); Window is the
	// batching window, counted from the first record of a batch.
	BatchSize int
	Window    time.Duration
	// ReportBatchItemFailures is FunctionResponseTypes:
	// ReportBatchItemFailures.
	ReportBatchItemFailures bool
	Event                   string // the event's name, for the log
	Log                     *slog.Logger

	mu       sync.Mutex
	firstErr error
}

// Run polls with n concurrent batches (MaximumConcurrency) until ctx ends.
// A failed receive or delete is logged and polling goes on, as Lambda's
// does; Run returns the first such failure, or nil.
func (m *Mapping) Run(ctx context.Context, n int, fn Function) error {
	if m.BatchSize <= 0 {
		m.BatchSize = defaultBatch
	}
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				m.once(ctx, fn)
			}
		})
	}
	wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.firstErr
}

func (m *Mapping) failed(msg string, err error) {
	m.Log.Warn(msg, "error", err)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.firstErr == nil {
		m.firstErr = err
	}
}

// once gathers one batch and hands it to an execution environment.
func (m *Mapping) once(ctx context.Context, fn Function) {
	batch := m.gather(ctx)
	if len(batch) == 0 {
		return
	}
	in, err := fn.Acquire(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.Log.Warn("no execution environment: the messages come back", "error", err, "messages", len(batch))
		}
		return // the messages come back after their visibility timeout
	}
	ev, _ := json.Marshal(events.SQSEvent{Records: batch}) // plain data always marshals
	m.Log.Info("invoking", "function", in.Name(), "messages", len(batch), "event", m.Event)
	res := in.Invoke(ctx, ev)
	in.Release(res.Healthy())
	if ctx.Err() != nil {
		return
	}
	succeeded := m.settle(batch, res)
	m.Log.Info("batch done", "function", in.Name(), "outcome", res.Outcome.String(),
		"messages", len(batch), "deleted", len(succeeded), "kept", kept(batch, succeeded), "detail", res.Detail)
	m.delete(ctx, succeeded)
}

// settle returns the records of the batch that succeeded.
func (m *Mapping) settle(batch []events.SQSMessage, res rie.Result) []events.SQSMessage {
	if res.Outcome != rie.Invoked {
		return nil
	}
	if !m.ReportBatchItemFailures {
		return batch
	}
	failed, ok := BatchItemFailures(res.Payload, batch)
	if !ok {
		m.Log.Warn("unparsable batch response, or one naming an item not in the batch: the whole batch failed")
		return nil
	}
	var done []events.SQSMessage
	for _, r := range batch {
		if !failed[r.MessageId] {
			done = append(done, r)
		}
	}
	return done
}

// BatchItemFailures reads a function's answer to an SQS event by Lambda's
// rules for ReportBatchItemFailures: an empty or null answer, or no
// batchItemFailures, is a complete success; an unparsable answer, or an
// item id that is empty or not in the batch, is a complete failure
// (ok false). It returns the ids of the records that failed.
func BatchItemFailures(payload []byte, batch []events.SQSMessage) (failed map[string]bool, ok bool) {
	failed = map[string]bool{}
	trimmed := string(payload)
	if trimmed == "" || trimmed == "null" || trimmed == `""` {
		return failed, true
	}
	var resp struct {
		Failures *[]struct {
			ID *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, false
	}
	if resp.Failures == nil {
		return failed, true
	}
	inBatch := map[string]bool{}
	for _, r := range batch {
		inBatch[r.MessageId] = true
	}
	for _, f := range *resp.Failures {
		if f.ID == nil || *f.ID == "" || !inBatch[*f.ID] {
			return nil, false
		}
		failed[*f.ID] = true
	}
	return failed, true
}

// kept lists the ids of the records of batch that are not deleted: they
// come back after their visibility timeout.
func kept(batch, succeeded []events.SQSMessage) []string {
	done := map[string]bool{}
	for _, r := range succeeded {
		done[r.MessageId] = true
	}
	ids := []string{}
	for _, r := range batch {
		if !done[r.MessageId] {
			ids = append(ids, r.MessageId)
		}
	}
	return ids
}

// gather receives up to BatchSize messages: it long-polls for the first
// ones, then keeps receiving until the batch is full or the batching
// window, counted from the first message, ends. A message received twice
// (its visibility ran out meanwhile) is kept once, with its newest
// receipt handle.
func (m *Mapping) gather(ctx context.Context) []events.SQSMessage {
	var batch []events.SQSMessage
	index := map[string]int{} // message id → position in batch
	var windowEnd time.Time
	for len(batch) < m.BatchSize && ctx.Err() == nil {
		wait := longPoll
		if len(batch) > 0 {
			left := time.Until(windowEnd)
			if left <= 0 {
				break
			}
			// WaitTimeSeconds counts whole seconds: never past the window.
			wait = min(left, longPoll).Truncate(time.Second)
		}
		out, err := m.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(m.QueueURL),
			MaxNumberOfMessages:         int32(min(maxReceive, m.BatchSize-len(batch))),
			WaitTimeSeconds:             int32(wait / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if ctx.Err() == nil {
				m.failed("ReceiveMessage failed", err)
				_ = clock.Sleep(ctx, retryPause) // the loop ends if ctx did
			}
			break
		}
		if len(out.Messages) > 0 && len(batch) == 0 {
			windowEnd = time.Now().Add(m.Window)
		}
		for _, msg := range out.Messages {
			rec := m.record(msg)
			if i, ok := index[rec.MessageId]; ok {
				batch[i] = rec
				continue
			}
			index[rec.MessageId] = len(batch)
			batch = append(batch, rec)
		}
		if len(batch) > 0 && m.Window == 0 {
			break
		}
		if len(out.Messages) == 0 && wait == 0 {
			_ = clock.Sleep(ctx, min(time.Until(windowEnd), 50*time.Millisecond)) // the loop ends if ctx did
		}
	}
	return batch
}

// record is the Lambda event record of a received message.
func (m *Mapping) record(msg types.Message) events.SQSMessage {
	attrs := map[string]events.SQSMessageAttribute{}
	for k, v := range msg.MessageAttributes {
		attrs[k] = events.SQSMessageAttribute{
			StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType),
			StringListValues: v.StringListValues, BinaryListValues: v.BinaryListValues,
		}
	}
	return events.SQSMessage{
		MessageId: aws.ToString(msg.MessageId), ReceiptHandle: aws.ToString(msg.ReceiptHandle),
		Body: aws.ToString(msg.Body), Md5OfBody: aws.ToString(msg.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(msg.MD5OfMessageAttributes),
		Attributes:             msg.Attributes, MessageAttributes: attrs,
		EventSource: "aws:sqs", EventSourceARN: m.QueueARN, AWSRegion: region(m.QueueARN),
	}
}

// region is the region of an ARN (arn:partition:service:region:...).
func region(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

// delete removes the messages that succeeded. Deletion outlives
// cancellation briefly: what was done must not be done again.
func (m *Mapping) delete(ctx context.Context, msgs []events.SQSMessage) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for len(msgs) > 0 {
		n := min(deleteBatch, len(msgs))
		var entries []types.DeleteMessageBatchRequestEntry
		for i, r := range msgs[:n] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r.ReceiptHandle),
			})
		}
		out, err := m.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(m.QueueURL), Entries: entries})
		switch {
		case err != nil:
			m.failed("DeleteMessageBatch failed: the messages come back", err)
		case len(out.Failed) > 0:
			m.failed("some deletions failed: those messages come back",
				fmt.Errorf("DeleteMessageBatch: %d entries failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message)))
		}
		msgs = msgs[n:]
	}
}
