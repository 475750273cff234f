package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/store"
)

type jobMeta struct {
	Total      int             `json:"total"`
	CreatedAt  time.Time       `json:"created_at"`
	Webhook    json.RawMessage `json:"webhook,omitempty"`
	SingleShot bool            `json:"single_shot,omitempty"`
}

type counts struct {
	Summary store.Summary `json:"summary"`
	LastAt  time.Time     `json:"last_at"`
}

// CreateJob stores a new job; it fails with store.ErrJobExists when the id is
// taken. A zero CreatedAt is set to now. The job expires after the store's
// retention.
func (s *Store) CreateJob(ctx context.Context, j store.Job) error {
	if err := store.CheckJob(j); err != nil {
		return err
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = s.now()
	}
	meta := jobMeta{Total: j.Total, CreatedAt: store.Clean(j.CreatedAt), Webhook: j.Webhook, SingleShot: j.SingleShot}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		if b.Get([]byte(j.ID)) != nil {
			return store.ErrJobExists
		}
		if err := putJSON(b, []byte(j.ID), meta); err != nil {
			return err
		}
		return s.noteExpiry(tx, j.ID, meta.CreatedAt)
	})
	if err != nil {
		return fmt.Errorf("bolt store: create job %q: %w", j.ID, err)
	}
	return nil
}

// GetJob returns the job with its counters; FinishedAt is the time the last
// missing result was settled, once every address has one. A job past its
// retention is not found.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, error) {
	var meta jobMeta
	var c counts
	var waiting store.Tally
	err := s.db.View(func(tx *bbolt.Tx) error {
		ok, err := s.liveJob(tx, id, &meta)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if _, err = getJSON(tx.Bucket(bucketCounts), []byte(id), &c); err != nil {
			return err
		}
		waiting, err = waitingOf(tx, id)
		return err
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("bolt store: get job %q: %w", id, err)
	}
	j := store.Job{ID: id, Total: meta.Total, CreatedAt: meta.CreatedAt, Webhook: meta.Webhook, SingleShot: meta.SingleShot}
	waiting.Summary, waiting.Last = c.Summary, c.LastAt
	waiting.Fill(&j)
	return j, nil
}

// liveJob reads a job's record unless it is missing or past its
// retention.
func (s *Store) liveJob(tx *bbolt.Tx, id string, meta *jobMeta) (bool, error) {
	ok, err := getJSON(tx.Bucket(bucketJobs), []byte(id), meta)
	if err != nil || !ok {
		return false, err
	}
	return s.now().Before(store.Expiry(meta.CreatedAt, s.retention)), nil
}

// partsOf is what the parts bucket keeps of an outcome that handed items
// back.
type partsOf struct {
	Hop   int          `json:"hop"`
	Parts []store.Part `json:"parts"`
}

// waitingOf counts the uncounted addresses of a job's parts whose own
// message has no outcome yet, in a Tally's Waiting and Next.
func waitingOf(tx *bbolt.Tx, id string) (store.Tally, error) {
	var t store.Tally
	parts := tx.Bucket(bucketParts).Bucket([]byte(id))
	outs := tx.Bucket(bucketOutcomes).Bucket([]byte(id))
	results := tx.Bucket(bucketResults).Bucket([]byte(id))
	if parts == nil || outs == nil {
		return t, nil
	}
	err := parts.ForEach(func(k, v []byte) error {
		var p partsOf
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("parts of %s: %w", k, err)
		}
		for _, part := range p.Parts {
			if outs.Get([]byte(store.MessageKey(p.Hop+1, part.Indices))) != nil {
				continue
			}
			n := 0
			for _, i := range part.Indices {
				if results == nil || results.Get(u64(uint64(i))) == nil {
					n++
				}
			}
			t.Wait(part, n)
		}
		return nil
	})
	return t, err
}

// errUnreachable marks a state a checked argument cannot lead to.
var errUnreachable = errors.New("unreachable")
