package local

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// Stats counts a queue's messages by state at one moment, as SQS's
// ApproximateNumberOfMessages* attributes do.
type Stats struct {
	Visible  int // ready to be received
	Delayed  int // sent or handed back with a delay that has not passed
	InFlight int // received, not yet deleted or handed back
	// OldestAge is the age of the oldest visible message (since it was
	// first sent); zero when no message is visible.
	OldestAge time.Duration
	// DelayedItems is the number of addresses in the delayed messages:
	// the addresses waiting for a retry, since new work is sent without a
	// delay. A body that does not decode counts as none.
	DelayedItems int
}

// Stats reads every message in one read-only transaction, which does not
// block senders or receivers. It costs a decode per message, so it suits
// a scrape every few seconds, not a hot path.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	now := q.now()
	err := q.db.View(func(tx *bbolt.Tx) error {
		msgs := tx.Bucket(q.msgs)
		if msgs == nil {
			return nil
		}
		return msgs.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("message %x: %w", k, err)
			}
			st.add(r, now)
			return nil
		})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("local queue %s: stats: %w", q.name, err)
	}
	return st, nil
}

func (st *Stats) add(r record, now time.Time) {
	switch {
	case r.InFlight:
		st.InFlight++
	case r.VisibleAt.After(now):
		st.Delayed++
		if m, err := queue.Decode(r.Body); err == nil {
			st.DelayedItems += len(m.Items)
		}
	default:
		st.Visible++
		if !r.SentAt.IsZero() {
			st.OldestAge = max(st.OldestAge, now.Sub(r.SentAt))
		}
	}
}
