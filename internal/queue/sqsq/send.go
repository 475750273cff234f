package sqsq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/internal/clock"
	"github.com/mailprobe/mailprobe/internal/queue"
)

// DefaultSendConcurrency is how many SendMessageBatch calls Send keeps in
// flight. A 100 000-address bulk job is about 100 calls; one at a time at
// 5-20 ms each in-region is too close to API Gateway's 29 s once retries
// and slow calls are counted, 8 at a time is well within it.
const DefaultSendConcurrency = 8

// Send enqueues msgs, visible after delay (whole seconds, at most 15 min),
// with SendMessageBatch calls of at most 10 entries and 256 KiB, up to
// DefaultSendConcurrency calls at once. Entries that fail in a partly failed
// batch are retried with backoff when SQS blames itself, not the sender,
// whatever happens to the other entries of the batch. Every message is
// encoded first: an invalid or oversized one fails the call before anything
// is sent. Otherwise a *queue.SendError lists the messages that were not
// sent: those SQS refused, and those still failing after the retries.
func (q *Queue) Send(ctx context.Context, msgs []queue.Message, delay time.Duration) error {
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		b, err := queue.Encode(m)
		if err != nil {
			return fmt.Errorf("sqsq: message %d: %w", i, err)
		}
		bodies[i] = b
	}
	return q.SendRaw(ctx, delay, bodies...)
}

// SendRaw is Send for bodies already encoded, sent as they are: for a
// producer that encoded its messages with queue.Encode beforehand (the API
// does, to refuse a bulk job before creating it) and for moving dead
// letters back. A body over queue.MaxBodyBytes fails the call with
// queue.ErrTooLarge before anything is sent; a *queue.SendError's indices
// are indices into bodies.
func (q *Queue) SendRaw(ctx context.Context, delay time.Duration, bodies ...[]byte) error {
	for i, b := range bodies {
		if len(b) > queue.MaxBodyBytes {
			return fmt.Errorf("sqsq: message %d: %w: %d bytes, limit %d", i, queue.ErrTooLarge, len(b), queue.MaxBodyBytes)
		}
	}
	delaySec := int32(queue.ClampDelay(delay) / time.Second)
	batches := pack(bodies)
	// Each batch writes only its own slots, so the results need no lock;
	// batches never share a message, so a retry stays within its batch.
	failed := make([][]int, len(batches))
	errs := make([]error, len(batches))
	var g errgroup.Group
	g.SetLimit(max(q.sendConcurrency, 1))
	for b, batch := range batches {
		g.Go(func() error {
			failed[b], errs[b] = q.sendBatch(ctx, bodies, batch, delaySec)
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through failed and errs
	var unsent []int
	var lastErr error
	for b := range batches {
		if errs[b] != nil {
			unsent, lastErr = append(unsent, failed[b]...), errs[b]
		}
	}
	if len(unsent) > 0 {
		slices.Sort(unsent)
		return &queue.SendError{Unsent: unsent, Err: lastErr}
	}
	return nil
}

// pack groups body indices into batches of ≤ MaxBatchEntries entries and
// ≤ MaxBodyBytes in total, keeping their order.
func pack(bodies [][]byte) [][]int {
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

// sendBatch sends one batch, retrying the entries that failed on SQS's
// side; an entry SQS refused is given up at once, and the retries of the
// others go on. It returns the indices still unsent and why.
func (q *Queue) sendBatch(ctx context.Context, bodies [][]byte, batch []int, delay int32) ([]int, error) {
	pending := batch
	var refused []int
	var refusedErr, retryErr error
	for round := range q.sendRounds {
		if round > 0 {
			if werr := clock.Sleep(ctx, q.backoff<<(round-1)); werr != nil {
				return append(refused, pending...), errors.Join(refusedErr, retryErr, werr)
			}
		}
		res := q.sendOnce(ctx, bodies, pending, delay)
		if len(res.refused) > 0 {
			refused, refusedErr = append(refused, res.refused...), res.refusedErr
		}
		pending, retryErr = res.retry, res.retryErr
		if len(pending) == 0 {
			break
		}
	}
	if len(refused) == 0 && len(pending) == 0 {
		return nil, nil
	}
	return append(refused, pending...), errors.Join(refusedErr, retryErr)
}

// sendResult is the outcome of one SendMessageBatch call: the entries worth
// retrying and those refused for good, each with the last reason.
type sendResult struct {
	retry, refused       []int
	retryErr, refusedErr error
}

// sendOnce makes one SendMessageBatch call for the entries of batch.
func (q *Queue) sendOnce(ctx context.Context, bodies [][]byte, batch []int, delay int32) sendResult {
	entries := make([]types.SendMessageBatchRequestEntry, len(batch))
	for j, i := range batch {
		entries[j] = types.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(bodies[i])), DelaySeconds: delay,
		}
	}
	out, err := q.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
	if err != nil {
		// The SDK has already retried transient errors; whether any entry
		// went through is unknown, so all are retried (the store dedupes).
		return sendResult{retry: batch, retryErr: fmt.Errorf("sqsq: send batch: %w", err)}
	}
	var res sendResult
	for _, f := range out.Failed {
		i, perr := strconv.Atoi(aws.ToString(f.Id))
		if perr != nil {
			return sendResult{refused: batch,
				refusedErr: fmt.Errorf("sqsq: send batch: unknown entry id %q", aws.ToString(f.Id))}
		}
		err := fmt.Errorf("sqsq: entry %d: %s: %s", i, aws.ToString(f.Code), aws.ToString(f.Message))
		if f.SenderFault {
			res.refused, res.refusedErr = append(res.refused, i), fmt.Errorf("%w: %w", errSenderFault, err)
		} else {
			res.retry, res.retryErr = append(res.retry, i), err
		}
	}
	return res
}
