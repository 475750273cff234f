package sqsq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// SendError reports messages Send could not enqueue; the others were sent.
type SendError struct {
	Unsent []int // indices into Send's msgs
	Err    error // the last failure
}

func (e *SendError) Error() string {
	return fmt.Sprintf("sqsq: %d messages not sent: %v", len(e.Unsent), e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Send enqueues msgs, visible after delay (whole seconds, at most 15 min),
// with SendMessageBatch calls of at most 10 entries and 256 KiB. Entries that
// fail in a partly failed batch are retried with backoff when SQS blames
// itself, not the sender. Every message is encoded first: an invalid or
// oversized one fails the call before anything is sent. Otherwise a
// *SendError lists the messages that were not sent.
func (q *Queue) Send(ctx context.Context, msgs []queue.Message, delay time.Duration) error {
	bodies := make([]string, len(msgs))
	for i, m := range msgs {
		b, err := queue.Encode(m)
		if err != nil {
			return fmt.Errorf("sqsq: message %d: %w", i, err)
		}
		bodies[i] = string(b)
	}
	delaySec := int32(queue.ClampDelay(delay) / time.Second)
	var unsent []int
	var lastErr error
	for _, batch := range pack(bodies) {
		failed, err := q.sendBatch(ctx, bodies, batch, delaySec)
		if err != nil {
			unsent, lastErr = append(unsent, failed...), err
		}
	}
	if len(unsent) > 0 {
		return &SendError{Unsent: unsent, Err: lastErr}
	}
	return nil
}

// pack groups body indices into batches of ≤ MaxBatchEntries entries and
// ≤ MaxBodyBytes in total, keeping their order.
func pack(bodies []string) [][]int {
	var out [][]int
	var cur []int
	size := 0
	for i, b := range bodies {
		if len(cur) == queue.MaxBatchEntries || (len(cur) > 0 && size+len(b) > queue.MaxBodyBytes) {
			out, cur, size = append(out, cur), nil, 0
		}
		cur = append(cur, i)
		size += len(b)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// errSenderFault marks a batch entry SQS refused for its content.
var errSenderFault = errors.New("sqsq: entry refused")

// sendBatch sends one batch, retrying the entries that failed on SQS's side.
// It returns the indices still unsent and why.
func (q *Queue) sendBatch(ctx context.Context, bodies []string, batch []int, delay int32) ([]int, error) {
	pending := batch
	var err error
	for round := range q.sendRounds {
		if round > 0 {
			if werr := sleep(ctx, q.backoff<<(round-1)); werr != nil {
				return pending, errors.Join(err, werr)
			}
		}
		var retry, refused []int
		retry, refused, err = q.sendOnce(ctx, bodies, pending, delay)
		if len(refused) > 0 {
			return append(refused, retry...), err
		}
		if len(retry) == 0 {
			return nil, nil
		}
		pending = retry
	}
	return pending, err
}

// sendOnce returns the entries worth retrying and those refused for good.
func (q *Queue) sendOnce(ctx context.Context, bodies []string, batch []int, delay int32) (retry, refused []int, err error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(batch))
	for j, i := range batch {
		entries[j] = types.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(bodies[i]), DelaySeconds: delay,
		}
	}
	out, err := q.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
	if err != nil {
		// The SDK has already retried transient errors; whether any entry
		// went through is unknown, so all are retried (the store dedupes).
		return batch, nil, fmt.Errorf("sqsq: send batch: %w", err)
	}
	for _, f := range out.Failed {
		i, perr := strconv.Atoi(aws.ToString(f.Id))
		if perr != nil {
			return nil, batch, fmt.Errorf("sqsq: send batch: unknown entry id %q", aws.ToString(f.Id))
		}
		err = fmt.Errorf("sqsq: entry %d: %s: %s", i, aws.ToString(f.Code), aws.ToString(f.Message))
		if f.SenderFault {
			refused = append(refused, i)
			err = fmt.Errorf("%w: %w", errSenderFault, err)
		} else {
			retry = append(retry, i)
		}
	}
	return retry, refused, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
