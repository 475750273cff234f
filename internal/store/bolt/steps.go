package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/store"
)

// StoreResults stages the results a delivery of message key reached,
// unless the key has staged results already, or is settled: then those
// (a settled key's from the job's results, where Settle moved them) are
// returned and created is false. They count once the key's outcome is
// settled. A zero CreatedAt is set to now.
func (s *Store) StoreResults(ctx context.Context, jobID, key string, recs []store.Record) ([]store.Record, bool, error) {
	recs, err := store.ResultsToStore(jobID, key, recs, s.now())
	if err != nil || len(recs) == 0 {
		return nil, false, err
	}
	var stored []store.Record
	var created bool
	// Batch folds the concurrent writes of a worker into one transaction
	// and one fsync. It may run the function more than once, so the
	// function starts from scratch.
	err = s.db.Batch(func(tx *bbolt.Tx) error {
		stored, created = nil, false
		groups, err := nested(tx, bucketGroups, jobID)
		if err != nil {
			return err
		}
		// Decoded into a fresh slice: recs shares its results' bytes with
		// the caller.
		ok, err := getJSON(groups, []byte(key), &stored)
		if ok || err != nil {
			return err
		}
		var o store.Outcome
		if outs := tx.Bucket(bucketOutcomes).Bucket([]byte(jobID)); outs != nil {
			if ok, err := getJSON(outs, []byte(key), &o); ok || err != nil {
				if err == nil {
					stored, err = settledRecords(tx, o)
				}
				return err
			}
		}
		stored, created = recs, true
		return putJSON(groups, []byte(key), recs)
	})
	if err != nil {
		return nil, false, fmt.Errorf("bolt store: store results of %s/%s: %w", jobID, key, err)
	}
	return stored, created, nil
}

// Settle records o unless the key has an outcome already, and in the same
// transaction moves the key's staged results into the job's results and
// counts them (an index settled before keeps its first result); it returns
// the outcome that stands and whether this call wrote it.
func (s *Store) Settle(ctx context.Context, o store.Outcome) (store.Outcome, bool, error) {
	o, err := store.OutcomeToSettle(o, s.now())
	if err != nil {
		return store.Outcome{}, false, err
	}
	var won store.Outcome
	var created bool
	err = s.db.Batch(func(tx *bbolt.Tx) error {
		won, created = store.Outcome{}, false
		outs, err := nested(tx, bucketOutcomes, o.JobID)
		if err != nil {
			return err
		}
		ok, err := getJSON(outs, []byte(o.Key), &won)
		if ok || err != nil {
			return err
		}
		won, created = o, true
		if err := putJSON(outs, []byte(o.Key), o); err != nil {
			return err
		}
		if err := s.commit(tx, o); err != nil {
			return err
		}
		if len(o.Parts) > 0 {
			parts, err := nested(tx, bucketParts, o.JobID)
			if err != nil {
				return err
			}
			return putJSON(parts, []byte(o.Key), partsOf{Hop: o.Hop, Parts: o.Parts})
		}
		return nil
	})
	if err != nil {
		return store.Outcome{}, false, fmt.Errorf("bolt store: settle %s/%s: %w", o.JobID, o.Key, err)
	}
	return won, created, nil
}

// commit moves the staged results of o into the job's results and counts
// those not settled before.
func (s *Store) commit(tx *bbolt.Tx, o store.Outcome) error {
	if len(o.Stored) == 0 {
		return nil
	}
	var staged []store.Record
	groups, err := nested(tx, bucketGroups, o.JobID)
	if err != nil {
		return err
	}
	if _, err := getJSON(groups, []byte(o.Key), &staged); err != nil {
		return err
	}
	byIndex := make(map[int]store.Record, len(staged))
	for _, r := range staged {
		byIndex[r.Index] = r
	}
	results, err := nested(tx, bucketResults, o.JobID)
	if err != nil {
		return err
	}
	var c counts
	if _, err := getJSON(tx.Bucket(bucketCounts), []byte(o.JobID), &c); err != nil {
		return err
	}
	for _, v := range o.Stored {
		rec, ok := byIndex[v.Index]
		if !ok || rec.IsReachable != v.Verdict {
			return fmt.Errorf("%w: outcome %s stores index %d, which its results do not hold", store.ErrInvalid, o.Key, v.Index)
		}
		key := u64(uint64(v.Index))
		if results.Get(key) != nil {
			continue // settled by an overlapping message first
		}
		if err := putJSON(results, key, rec); err != nil {
			return err
		}
		if !c.Summary.Add(rec.IsReachable) {
			return errUnreachable
		}
		c.LastAt = o.At
	}
	if err := putJSON(tx.Bucket(bucketCounts), []byte(o.JobID), c); err != nil {
		return err
	}
	// The staged copy is not needed any more: the file keeps one copy of
	// each result.
	if err := groups.Delete([]byte(o.Key)); err != nil {
		return err
	}
	if tx.Bucket(bucketJobs).Get([]byte(o.JobID)) == nil {
		// A job without a record expires with its results.
		return s.noteExpiry(tx, o.JobID, o.At)
	}
	return nil
}

// Outcome returns the settled outcome of a message key, or
// store.ErrNotFound (also once it is past the retention).
func (s *Store) Outcome(ctx context.Context, jobID, key string) (store.Outcome, error) {
	if err := store.CheckKey(jobID, key); err != nil {
		return store.Outcome{}, err
	}
	var o store.Outcome
	err := s.db.View(func(tx *bbolt.Tx) error {
		outs := tx.Bucket(bucketOutcomes).Bucket([]byte(jobID))
		if outs == nil {
			return store.ErrNotFound
		}
		ok, err := getJSON(outs, []byte(key), &o)
		if err == nil && (!ok || !s.now().Before(store.Expiry(o.At, s.retention))) {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return store.Outcome{}, fmt.Errorf("bolt store: outcome %s/%s: %w", jobID, key, err)
	}
	return o, nil
}

// PutResult stores one record as a message of its own (store.PutResult).
func (s *Store) PutResult(ctx context.Context, rec store.Record) (store.Record, bool, error) {
	return store.PutResult(ctx, s, rec)
}

// settledRecords returns the results of a settled outcome's stored
// indices as the job's results hold them (an index another message settled
// first holds that message's record).
func settledRecords(tx *bbolt.Tx, o store.Outcome) ([]store.Record, error) {
	results := tx.Bucket(bucketResults).Bucket([]byte(o.JobID))
	out := make([]store.Record, 0, len(o.Stored))
	for _, v := range o.Stored {
		var rec store.Record
		if results == nil {
			return nil, fmt.Errorf("outcome %s stores index %d, which the job's results lack", o.Key, v.Index)
		}
		ok, err := getJSON(results, u64(uint64(v.Index)), &rec)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("outcome %s stores index %d, which the job's results lack", o.Key, v.Index)
		}
		out = append(out, rec)
	}
	return out, nil
}

// nested returns (creating it) the bucket of job id inside a top bucket.
func nested(tx *bbolt.Tx, top []byte, id string) (*bbolt.Bucket, error) {
	return tx.Bucket(top).CreateBucketIfNotExists([]byte(id))
}

// noteExpiry records that job id expires after the retention from t.
func (s *Store) noteExpiry(tx *bbolt.Tx, id string, t time.Time) error {
	k := append(u64(timeKey(store.Expiry(t, s.retention))), 0)
	return tx.Bucket(bucketExpiry).Put(append(k, id...), nil)
}

// Purge deletes the jobs and results past their retention and the expired
// cache items and counters, and returns how many jobs it deleted. Open
// calls it; a long-running process calls it now and then.
func (s *Store) Purge() (int, error) {
	now := s.now()
	jobs := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		exp := tx.Bucket(bucketExpiry)
		c := exp.Cursor()
		var done [][]byte
		for k, _ := c.First(); len(k) > 9; k, _ = c.Next() {
			if binaryTime(k) > timeKey(now) {
				break
			}
			id := string(k[9:])
			if ok, err := s.listable(tx, id); err != nil || ok {
				// Still live: results settled later under a job
				// without a record (a later entry will come).
				done = append(done, slices.Clone(k))
				continue
			}
			if err := deleteJob(tx, id); err != nil {
				return err
			}
			jobs++
			done = append(done, slices.Clone(k))
		}
		for _, k := range done {
			if err := exp.Delete(k); err != nil {
				return err
			}
		}
		return purgeExpired(tx, now)
	})
	if err != nil {
		return 0, fmt.Errorf("bolt store: purge: %w", err)
	}
	return jobs, nil
}

func deleteJob(tx *bbolt.Tx, id string) error {
	for _, b := range perJob {
		top := tx.Bucket(b)
		if top.Bucket([]byte(id)) != nil {
			if err := top.DeleteBucket([]byte(id)); err != nil {
				return err
			}
		} else if err := top.Delete([]byte(id)); err != nil {
			return err
		}
	}
	return nil
}

// purgeExpired deletes the expired cache items and counters.
func purgeExpired(tx *bbolt.Tx, now time.Time) error {
	for _, name := range [][]byte{bucketCache, bucketCounters} {
		b := tx.Bucket(name)
		var dead [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var e struct {
				Expires time.Time `json:"exp"`
			}
			if json.Unmarshal(v, &e) == nil && !live(e.Expires, now) {
				dead = append(dead, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}
