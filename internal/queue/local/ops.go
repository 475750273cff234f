package local

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// Send enqueues msgs, visible after delay (whole seconds, at most 15 min, as
// in SQS), all in one transaction: either all are queued or none.
func (q *Queue) Send(ctx context.Context, msgs []queue.Message, delay time.Duration) error {
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		b, err := queue.Encode(m)
		if err != nil {
			return fmt.Errorf("local queue: message %d: %w", i, err)
		}
		bodies[i] = b
	}
	return q.SendRaw(ctx, delay, bodies...)
}

// SendRaw enqueues bodies as they are, without validation, all or none:
// for a producer that encoded its messages with queue.Encode beforehand
// (the API does, to refuse a bulk job before creating it), for moving dead
// letters back (a redrive) and for tests of poison messages. A body over
// queue.MaxBodyBytes fails the call with queue.ErrTooLarge.
func (q *Queue) SendRaw(ctx context.Context, delay time.Duration, bodies ...[]byte) error {
	now := q.now()
	visible := now.Add(queue.ClampDelay(delay))
	err := q.db.Update(func(tx *bbolt.Tx) error {
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		for _, b := range bodies {
			if len(b) > queue.MaxBodyBytes {
				return fmt.Errorf("%w: %d bytes", queue.ErrTooLarge, len(b))
			}
			seq, err := msgs.NextSequence()
			if err != nil {
				return err
			}
			if err := put(msgs, ready, seq, record{ID: rand.Text(), Body: b, VisibleAt: visible, SentAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("local queue %s: send: %w", q.name, err)
	}
	q.signal()
	return nil
}

// Receive waits up to wait for up to n (1-10) visible messages, hides them
// for the visibility timeout and returns them. A message received more than
// MaxReceiveCount times goes to the dead-letter queue instead. A body that
// does not decode comes back with Delivery.Err set.
func (q *Queue) Receive(ctx context.Context, n int, wait time.Duration) ([]queue.Delivery, error) {
	n = min(max(n, 1), queue.MaxBatchEntries)
	deadline := q.now().Add(wait)
	for {
		arrived := q.arrivals() // before looking, so no arrival is missed
		ds, next, err := q.receiveOnce(n)
		if err != nil || len(ds) > 0 {
			return ds, err
		}
		now := q.now()
		if !now.Before(deadline) {
			return nil, nil
		}
		until := deadline
		if !next.IsZero() && next.Before(until) {
			until = next
		}
		t := time.NewTimer(until.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-arrived:
		case <-t.C:
		}
		t.Stop()
	}
}

// receiveOnce takes up to n visible messages; when there are none it returns
// when the next one becomes visible (zero: no message at all).
func (q *Queue) receiveOnce(n int) ([]queue.Delivery, time.Time, error) {
	var ds []queue.Delivery
	var next time.Time
	moved := false
	err := q.db.Update(func(tx *bbolt.Tx) error {
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		now := q.now()
		due, first := dueSeqs(ready, now, n)
		next = first
		for _, seq := range due {
			d, dead, err := q.take(tx, msgs, ready, seq, now)
			if err != nil {
				return err
			}
			if dead {
				moved = true
				continue
			}
			ds = append(ds, d)
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("local queue %s: receive: %w", q.name, err)
	}
	if moved {
		q.dlq.signal()
		if len(ds) == 0 {
			next = q.now() // look again at once: others may be due
		}
	}
	return ds, next, nil
}

// dueSeqs lists up to n messages visible at now, in order; if none is, it
// returns the time the first one becomes visible.
func dueSeqs(ready *bbolt.Bucket, now time.Time, n int) ([]uint64, time.Time) {
	var due []uint64
	c := ready.Cursor()
	limit := uint64(now.UnixNano()) ^ 1<<63
	for k, _ := c.First(); k != nil && len(due) < n; k, _ = c.Next() {
		at := binary.BigEndian.Uint64(k[:8])
		if at > limit {
			if len(due) == 0 {
				return nil, time.Unix(0, int64(at^1<<63))
			}
			break
		}
		due = append(due, binary.BigEndian.Uint64(k[8:]))
	}
	return due, time.Time{}
}

// take delivers message seq, or dead-letters it when it has been received
// MaxReceiveCount times already.
func (q *Queue) take(tx *bbolt.Tx, msgs, ready *bbolt.Bucket, seq uint64, now time.Time) (queue.Delivery, bool, error) {
	var r record
	if err := json.Unmarshal(msgs.Get(seqKey(seq)), &r); err != nil {
		return queue.Delivery{}, false, fmt.Errorf("message %d: %w", seq, err)
	}
	if err := ready.Delete(readyKey(r.VisibleAt, seq)); err != nil {
		return queue.Delivery{}, false, err
	}
	if q.opts.MaxReceiveCount > 0 && r.ReceiveCount >= q.opts.MaxReceiveCount && q.dlq != nil {
		if err := msgs.Delete(seqKey(seq)); err != nil {
			return queue.Delivery{}, false, err
		}
		dmsgs, dready, err := q.dlq.buckets(tx)
		if err != nil {
			return queue.Delivery{}, false, err
		}
		dseq, err := dmsgs.NextSequence()
		if err != nil {
			return queue.Delivery{}, false, err
		}
		return queue.Delivery{}, true, put(dmsgs, dready, dseq, record{ID: r.ID, Body: r.Body, VisibleAt: now, SentAt: r.SentAt})
	}
	r.ReceiveCount++
	r.InFlight, r.Receipt = true, strconv.FormatUint(seq, 10)+":"+rand.Text()
	r.VisibleAt = now.Add(q.opts.VisibilityTimeout)
	if err := put(msgs, ready, seq, r); err != nil {
		return queue.Delivery{}, false, err
	}
	d := queue.Delivery{ID: r.ID, Body: r.Body, ReceiptHandle: r.Receipt, ReceiveCount: r.ReceiveCount}
	d.Message, d.Err = queue.Decode(r.Body)
	return d, false, nil
}

// Delete removes a received message. Deleting one that is already gone is not
// an error; a stale receipt (the message was received again since) still
// deletes it, as in SQS.
func (q *Queue) Delete(ctx context.Context, d queue.Delivery) error {
	seq, err := receiptSeq(d.ReceiptHandle)
	if err != nil {
		return err
	}
	err = q.db.Update(func(tx *bbolt.Tx) error {
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		raw := msgs.Get(seqKey(seq))
		if raw == nil {
			return nil
		}
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		if err := ready.Delete(readyKey(r.VisibleAt, seq)); err != nil {
			return err
		}
		return msgs.Delete(seqKey(seq))
	})
	if err != nil {
		return fmt.Errorf("local queue %s: delete %s: %w", q.name, d.ID, err)
	}
	return nil
}

// Retry makes a received message visible again after delay (whole seconds,
// at most 12 h) instead of its visibility timeout. It fails with
// queue.ErrReceiptInvalid when the message is gone or was received again.
func (q *Queue) Retry(ctx context.Context, d queue.Delivery, delay time.Duration) error {
	seq, err := receiptSeq(d.ReceiptHandle)
	if err != nil {
		return err
	}
	at := q.now().Add(queue.ClampVisibility(delay))
	err = q.db.Update(func(tx *bbolt.Tx) error {
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		var r record
		raw := msgs.Get(seqKey(seq))
		if raw == nil {
			return queue.ErrReceiptInvalid
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		if !r.InFlight || r.Receipt != d.ReceiptHandle {
			return queue.ErrReceiptInvalid
		}
		if err := ready.Delete(readyKey(r.VisibleAt, seq)); err != nil {
			return err
		}
		// No longer in flight: a restart must keep this delay, not reset it.
		r.InFlight, r.Receipt, r.VisibleAt = false, "", at
		return put(msgs, ready, seq, r)
	})
	if err != nil {
		return fmt.Errorf("local queue %s: retry %s: %w", q.name, d.ID, err)
	}
	q.signal()
	return nil
}

func receiptSeq(receipt string) (uint64, error) {
	s, _, ok := strings.Cut(receipt, ":")
	seq, err := strconv.ParseUint(s, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("%w: %q", queue.ErrReceiptInvalid, receipt)
	}
	return seq, nil
}
