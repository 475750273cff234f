package lambdalocal

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/clock"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// SQS API limits the poller works within.
const (
	maxReceive  = 10               // messages per ReceiveMessage
	longPoll    = 20 * time.Second // the longest ReceiveMessage wait
	retryPause  = time.Second      // after a failed ReceiveMessage
	deleteBatch = 10               // entries per DeleteMessageBatch
)

// SQSAPI is the part of the SQS client the poller uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// poller is an SQS event source mapping, as Lambda runs one: up to
// MaximumConcurrency batches in flight, each gathered up to BatchSize
// messages or until the batching window ends, handed to the function, and
// then deleted: all of them after a success, none after an error or a
// timeout, and with ReportBatchItemFailures all but the reported ones.
// Messages not deleted come back when their visibility timeout ends, and
// SQS moves them to the dead-letter queue after maxReceiveCount receives.
type poller struct {
	sqs      SQSAPI
	queueURL string
	queueARN string
	ev       samtemplate.SQSEvent
	target   target
	log      *slog.Logger
}

// run polls with n concurrent batches until ctx ends.
func (p *poller) run(ctx context.Context, n int) {
	done := make(chan struct{})
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				p.once(ctx)
			}
		}()
	}
	for range n {
		<-done
	}
}

// once gathers one batch and hands it to the function.
func (p *poller) once(ctx context.Context) {
	batch := p.gather(ctx)
	if len(batch) == 0 {
		return
	}
	in, err := p.target.pool.acquire(ctx)
	if err != nil {
		return // stopping: the messages come back after their visibility timeout
	}
	ev, _ := json.Marshal(events.SQSEvent{Records: batch}) // plain data always marshals
	p.log.Info("invoking", "function", in.name, "messages", len(batch), "event", p.ev.Event)
	res := in.invoke(ctx, ev, p.target.timeout, p.log)
	p.target.pool.release(in, res.outcome == invoked || res.outcome == functionError)
	if ctx.Err() != nil {
		return
	}
	succeeded := p.settle(batch, res)
	p.log.Info("batch done", "function", in.name, "outcome", res.outcome.String(),
		"messages", len(batch), "deleted", len(succeeded), "kept", kept(batch, succeeded), "detail", res.detail)
	p.delete(ctx, succeeded)
}

// settle returns the records of the batch that succeeded.
func (p *poller) settle(batch []events.SQSMessage, res result) []events.SQSMessage {
	if res.outcome != invoked {
		return nil
	}
	if !p.ev.ReportBatchItemFailures {
		return batch
	}
	// Lambda's rules: an empty or null answer, or no batchItemFailures,
	// is a complete success; an unparsable answer, or an item id that is
	// empty or not in the batch, is a complete failure.
	var resp struct {
		Failures *[]struct {
			ID *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	trimmed := string(res.payload)
	if trimmed == "" || trimmed == "null" || trimmed == `""` {
		return batch
	}
	if err := json.Unmarshal(res.payload, &resp); err != nil {
		p.log.Warn("unparsable batch response: the whole batch failed", "error", err)
		return nil
	}
	if resp.Failures == nil {
		return batch
	}
	failed := map[string]bool{}
	inBatch := map[string]bool{}
	for _, m := range batch {
		inBatch[m.MessageId] = true
	}
	for _, f := range *resp.Failures {
		if f.ID == nil || *f.ID == "" || !inBatch[*f.ID] {
			p.log.Warn("batch response names an item not in the batch: the whole batch failed")
			return nil
		}
		failed[*f.ID] = true
	}
	var ok []events.SQSMessage
	for _, m := range batch {
		if !failed[m.MessageId] {
			ok = append(ok, m)
		}
	}
	return ok
}

// kept lists the ids of the messages of batch that are not deleted: they
// come back after their visibility timeout.
func kept(batch, succeeded []events.SQSMessage) []string {
	done := map[string]bool{}
	for _, m := range succeeded {
		done[m.MessageId] = true
	}
	ids := []string{}
	for _, m := range batch {
		if !done[m.MessageId] {
			ids = append(ids, m.MessageId)
		}
	}
	return ids
}

// gather receives up to BatchSize messages: it long-polls for the first
// ones, then keeps receiving until the batch is full or the batching
// window, counted from the first message, ends. A message received twice
// (its visibility ran out meanwhile) is kept once, with its newest
// receipt handle.
func (p *poller) gather(ctx context.Context) []events.SQSMessage {
	var batch []events.SQSMessage
	index := map[string]int{} // message id → position in batch
	var windowEnd time.Time
	for len(batch) < p.ev.BatchSize && ctx.Err() == nil {
		wait := longPoll
		if len(batch) > 0 {
			left := time.Until(windowEnd)
			if left <= 0 {
				break
			}
			// WaitTimeSeconds counts whole seconds: never past the window.
			wait = min(left, longPoll).Truncate(time.Second)
		}
		out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.queueURL),
			MaxNumberOfMessages:         int32(min(maxReceive, p.ev.BatchSize-len(batch))),
			WaitTimeSeconds:             int32(wait / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("ReceiveMessage failed", "error", err)
				_ = clock.Sleep(ctx, retryPause) // the loop ends if ctx did
			}
			break
		}
		if len(out.Messages) > 0 && len(batch) == 0 {
			windowEnd = time.Now().Add(p.ev.BatchingWindow)
		}
		for _, m := range out.Messages {
			rec := p.record(m)
			if i, ok := index[rec.MessageId]; ok {
				batch[i] = rec
				continue
			}
			index[rec.MessageId] = len(batch)
			batch = append(batch, rec)
		}
		if len(batch) > 0 && p.ev.BatchingWindow == 0 {
			break
		}
		if len(out.Messages) == 0 && wait == 0 {
			_ = clock.Sleep(ctx, min(time.Until(windowEnd), 50*time.Millisecond)) // the loop ends if ctx did
		}
	}
	return batch
}

// record is the Lambda event record of a received message.
func (p *poller) record(m types.Message) events.SQSMessage {
	attrs := map[string]events.SQSMessageAttribute{}
	for k, v := range m.MessageAttributes {
		attrs[k] = events.SQSMessageAttribute{
			StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType),
			StringListValues: v.StringListValues, BinaryListValues: v.BinaryListValues,
		}
	}
	return events.SQSMessage{
		MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             m.Attributes, MessageAttributes: attrs,
		EventSource: "aws:sqs", EventSourceARN: p.queueARN, AWSRegion: region,
	}
}

// delete removes the messages that succeeded. Deletion outlives
// cancellation briefly: what was done must not be done again.
func (p *poller) delete(ctx context.Context, msgs []events.SQSMessage) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for len(msgs) > 0 {
		n := min(deleteBatch, len(msgs))
		var entries []types.DeleteMessageBatchRequestEntry
		for i, m := range msgs[:n] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle),
			})
		}
		out, err := p.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: entries})
		switch {
		case err != nil:
			p.log.Warn("DeleteMessageBatch failed: the messages come back", "error", err)
		case len(out.Failed) > 0:
			p.log.Warn("some deletions failed: those messages come back", "failed", len(out.Failed))
		}
		msgs = msgs[n:]
	}
}
