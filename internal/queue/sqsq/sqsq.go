// Package sqsq is the work queue on Amazon SQS: Send with SendMessageBatch,
// Receive with long polling, Delete, and Retry (a visibility change). The
// dead-letter behaviour is the queue's RedrivePolicy (maxReceiveCount),
// configured where the queue is created (the SAM template, or a test).
package sqsq

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// API is the part of *sqs.Client the queue calls; tests wrap it.
type API interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Queue is one SQS queue. It is safe for concurrent use.
type Queue struct {
	api API
	url string
	// sendRounds bounds how often Send retries the failed entries of a batch.
	sendRounds int
	backoff    time.Duration
	// sendConcurrency bounds the SendMessageBatch calls in flight.
	sendConcurrency int
}

// New returns the queue at queueURL.
func New(api API, queueURL string) *Queue {
	return &Queue{api: api, url: queueURL, sendRounds: 5, backoff: 100 * time.Millisecond,
		sendConcurrency: DefaultSendConcurrency}
}

// maxWait is SQS's longest long poll.
const maxWait = 20 * time.Second

// Receive waits up to wait (at most 20 s) for up to n (1-10) messages. A
// body that does not decode comes back with Delivery.Err set.
func (q *Queue) Receive(ctx context.Context, n int, wait time.Duration) ([]queue.Delivery, error) {
	out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(q.url),
		MaxNumberOfMessages:         int32(min(max(n, 1), queue.MaxBatchEntries)),
		WaitTimeSeconds:             int32(min(queue.ClampVisibility(wait), maxWait) / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("sqsq: receive: %w", err)
	}
	ds := make([]queue.Delivery, 0, len(out.Messages))
	for _, m := range out.Messages {
		ds = append(ds, DeliveryOf(aws.ToString(m.MessageId), aws.ToString(m.Body), aws.ToString(m.ReceiptHandle),
			m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]))
	}
	return ds, nil
}

// DeliveryOf is a received SQS message as a queue.Delivery: its body
// decoded, its ApproximateReceiveCount parsed.
func DeliveryOf(id, body, receipt, count string) queue.Delivery {
	d := queue.Delivery{ID: id, Body: []byte(body), ReceiptHandle: receipt}
	d.ReceiveCount, _ = strconv.Atoi(count) // absent or garbled: 0, "unknown"
	d.Message, d.Err = queue.Decode(d.Body)
	return d
}

// Delete removes a received message.
func (q *Queue) Delete(ctx context.Context, d queue.Delivery) error {
	_, err := q.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(d.ReceiptHandle)})
	if err != nil {
		return fmt.Errorf("sqsq: delete %s: %w", d.ID, err)
	}
	return nil
}

// Retry makes a received message visible again after delay (whole seconds,
// at most 12 h) instead of its visibility timeout. The next receive counts
// toward maxReceiveCount, so a worker that reschedules often should instead
// Send a copy with Attempt+1 and a delay, then Delete the original.
func (q *Queue) Retry(ctx context.Context, d queue.Delivery, delay time.Duration) error {
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(d.ReceiptHandle),
		VisibilityTimeout: int32(queue.ClampVisibility(delay) / time.Second),
	})
	if err != nil {
		return fmt.Errorf("sqsq: retry %s: %w", d.ID, err)
	}
	return nil
}
