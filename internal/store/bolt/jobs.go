package bolt

import (
	"context"
	"encoding/binary"
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
// taken. A zero CreatedAt is set to now.
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
		return putJSON(b, []byte(j.ID), meta)
	})
	if err != nil {
		return fmt.Errorf("bolt store: create job %q: %w", j.ID, err)
	}
	return nil
}

// GetJob returns the job with its counters; FinishedAt is the time the last
// missing result was counted, once every address has one.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, error) {
	var (
		meta jobMeta
		c    counts
		j    = store.Job{ID: id}
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketJobs), []byte(id), &meta)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if _, err = getJSON(tx.Bucket(bucketCounts), []byte(id), &c); err != nil {
			return err
		}
		return waiting(tx, &j)
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("bolt store: get job %q: %w", id, err)
	}
	j.Total, j.CreatedAt, j.Webhook, j.SingleShot = meta.Total, meta.CreatedAt, meta.Webhook, meta.SingleShot
	j.Processed, j.Summary = c.Summary.Total(), c.Summary
	if j.Status() == store.StatusCompleted {
		at := c.LastAt
		j.FinishedAt = &at
	}
	return j, nil
}

// PutResult stores rec unless (JobID, Index) already has a record; either
// way it returns the stored record, and created tells which. The record and
// its count are written in one transaction, so a result is counted exactly
// once. A zero CreatedAt is set to now.
func (s *Store) PutResult(ctx context.Context, rec store.Record) (store.Record, bool, error) {
	if err := store.CheckRecord(rec); err != nil {
		return store.Record{}, false, err
	}
	now := store.Clean(s.now())
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	rec.CreatedAt = store.Clean(rec.CreatedAt)
	var (
		stored  store.Record
		created bool
	)
	// Batch folds concurrent PutResults (the worker stores a message's
	// results in parallel) into one transaction and one fsync. It may run
	// the function more than once, so the function starts from scratch.
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		stored, created = rec, false
		results, err := tx.Bucket(bucketResults).CreateBucketIfNotExists([]byte(rec.JobID))
		if err != nil {
			return err
		}
		key := u64(uint64(rec.Index))
		ok, err := getJSON(results, key, &stored)
		if ok || err != nil {
			return err
		}
		created = true
		if err := putJSON(results, key, rec); err != nil {
			return err
		}
		if w := tx.Bucket(bucketWaiting).Bucket([]byte(rec.JobID)); w != nil {
			if err := w.Delete(key); err != nil {
				return err
			}
		}
		if err := index(tx, rec); err != nil {
			return err
		}
		return count(tx, rec, now)
	})
	if err != nil {
		return store.Record{}, false, fmt.Errorf("bolt store: put result %s#%d: %w", rec.JobID, rec.Index, err)
	}
	return stored, created, nil
}

// Recount validates rec and does nothing else: PutResult writes a record
// and its count in one transaction, so a stored record is always counted.
// It exists so that callers written for stores that count in a second write
// (see dynamo.Store.Recount) work unchanged.
func (s *Store) Recount(_ context.Context, rec store.Record) error {
	return store.CheckRecord(rec)
}

// index adds rec to the by-verdict and by-address indexes.
func index(tx *bbolt.Tx, rec store.Record) error {
	verdicts, err := tx.Bucket(bucketVerdicts).CreateBucketIfNotExists([]byte(rec.JobID))
	if err != nil {
		return err
	}
	vkey := append([]byte(rec.IsReachable+"\x00"), u64(timeKey(rec.CreatedAt))...)
	if err := verdicts.Put(append(vkey, u64(uint64(rec.Index))...), nil); err != nil {
		return err
	}
	if rec.Normalized == "" {
		return nil
	}
	akey := append([]byte(rec.Normalized+"\x00"), u64(timeKey(rec.CreatedAt))...)
	akey = append(append(akey, rec.JobID+"\x00"...), u64(uint64(rec.Index))...)
	return putJSON(tx.Bucket(bucketAddrs), akey, addrRef{JobID: rec.JobID, Index: rec.Index})
}

type addrRef struct {
	JobID string `json:"job_id"`
	Index int    `json:"index"`
}

func count(tx *bbolt.Tx, rec store.Record, now time.Time) error {
	b := tx.Bucket(bucketCounts)
	var c counts
	if _, err := getJSON(b, []byte(rec.JobID), &c); err != nil {
		return err
	}
	if !c.Summary.Add(rec.IsReachable) {
		return errors.New("unreachable: verdict checked before") // CheckRecord ran first
	}
	if now.After(c.LastAt) {
		c.LastAt = now
	}
	return putJSON(b, []byte(rec.JobID), c)
}

// GetResult returns the stored result of (jobID, idx), or store.ErrNotFound.
func (s *Store) GetResult(ctx context.Context, jobID string, idx int) (store.Record, error) {
	var rec store.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		results := tx.Bucket(bucketResults).Bucket([]byte(jobID))
		if results == nil {
			return store.ErrNotFound
		}
		ok, err := getJSON(results, u64(uint64(idx)), &rec)
		if err == nil && !ok {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return store.Record{}, fmt.Errorf("bolt store: get result %s#%d: %w", jobID, idx, err)
	}
	return rec, nil
}

// SetWaiting records that the addresses at waits' indices wait for a retry,
// each until its Due. An index that has a result already is left alone: a
// late duplicate delivery must not show a stored address as waiting. A
// stored result clears its index's wait (PutResult).
func (s *Store) SetWaiting(ctx context.Context, jobID string, waits []store.Wait) error {
	if err := store.CheckWaits(jobID, waits); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		w, err := tx.Bucket(bucketWaiting).CreateBucketIfNotExists([]byte(jobID))
		if err != nil {
			return err
		}
		results := tx.Bucket(bucketResults).Bucket([]byte(jobID))
		for _, wt := range waits {
			key := u64(uint64(wt.Index))
			if results != nil && results.Get(key) != nil {
				continue
			}
			if err := w.Put(key, u64(uint64(wt.Due.UnixNano()))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt store: set waiting in %s: %w", jobID, err)
	}
	return nil
}

// waiting fills j's Waiting and NextRetryAt.
func waiting(tx *bbolt.Tx, j *store.Job) error {
	w := tx.Bucket(bucketWaiting).Bucket([]byte(j.ID))
	if w == nil {
		return nil
	}
	var next int64
	err := w.ForEach(func(_, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("waiting entry of %d bytes", len(v))
		}
		due := int64(binary.BigEndian.Uint64(v))
		if j.Waiting == 0 || due < next {
			next = due
		}
		j.Waiting++
		return nil
	})
	if err == nil && j.Waiting > 0 {
		at := time.Unix(0, next).UTC()
		j.NextRetryAt = &at
	}
	return err
}
