package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/store"
)

// ListResults returns up to limit records of a job in index order, skipping
// the first offset stored ones (indices without a result take no place).
func (s *Store) ListResults(ctx context.Context, jobID string, offset, limit int) ([]store.Record, error) {
	if err := store.CheckPage(offset, limit); err != nil {
		return nil, err
	}
	var out []store.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		results := tx.Bucket(bucketResults).Bucket([]byte(jobID))
		if results == nil {
			return nil
		}
		c := results.Cursor()
		k, v := c.First()
		for i := 0; k != nil && i < offset; i++ {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			var r store.Record
			if err := decodeRecord(k, v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: list results of %q: %w", jobID, err)
	}
	return out, nil
}

// ResultsByVerdict returns up to limit records of a job with the given
// verdict and created_at ≥ since, oldest first.
func (s *Store) ResultsByVerdict(ctx context.Context, jobID, verdict string, since time.Time, limit int) ([]store.Record, error) {
	if !store.ValidVerdict(verdict) || limit < 1 {
		return nil, fmt.Errorf("%w: verdict %q limit %d", store.ErrInvalid, verdict, limit)
	}
	prefix := []byte(verdict + "\x00")
	start := prefix
	if !since.IsZero() {
		start = append(bytes.Clone(prefix), u64(timeKey(since))...)
	}
	var out []store.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		verdicts := tx.Bucket(bucketVerdicts).Bucket([]byte(jobID))
		results := tx.Bucket(bucketResults).Bucket([]byte(jobID))
		if verdicts == nil || results == nil {
			return nil
		}
		c := verdicts.Cursor()
		for k, _ := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
			idx := k[len(k)-8:]
			var r store.Record
			if err := decodeRecord(idx, results.Get(idx), &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: results of %q by verdict: %w", jobID, err)
	}
	return out, nil
}

// LatestByAddress returns the most recently created record, over all jobs,
// of a normalized address.
func (s *Store) LatestByAddress(ctx context.Context, normalized string) (store.Record, error) {
	var r store.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		prefix := []byte(normalized + "\x00")
		c := tx.Bucket(bucketAddrs).Cursor()
		// The entries of one address sort by time; the last one is just
		// before the first key past the prefix (normalized 0x01).
		var k, v []byte
		if k, _ = c.Seek([]byte(normalized + "\x01")); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		if k == nil || !bytes.HasPrefix(k, prefix) || normalized == "" {
			return store.ErrNotFound
		}
		var ref addrRef
		if err := json.Unmarshal(v, &ref); err != nil {
			return fmt.Errorf("address entry %q: %w", k, err)
		}
		results := tx.Bucket(bucketResults).Bucket([]byte(ref.JobID))
		if results == nil {
			return fmt.Errorf("dangling address entry %q", k)
		}
		key := u64(uint64(ref.Index))
		return decodeRecord(key, results.Get(key), &r)
	})
	if err != nil {
		return store.Record{}, fmt.Errorf("bolt store: latest of %q: %w", normalized, err)
	}
	return r, nil
}

func decodeRecord(key, raw []byte, r *store.Record) error {
	if raw == nil {
		return fmt.Errorf("record %d missing", binary.BigEndian.Uint64(key))
	}
	if err := json.Unmarshal(raw, r); err != nil {
		return fmt.Errorf("record %d: %w", binary.BigEndian.Uint64(key), err)
	}
	return nil
}
