package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/store"
)

// ListResults returns up to limit records of a job in index order, skipping
// the first offset settled ones (indices without a result take no place).
// A job past its retention lists nothing.
func (s *Store) ListResults(ctx context.Context, jobID string, offset, limit int) ([]store.Record, error) {
	if err := store.CheckPage(offset, limit); err != nil {
		return nil, err
	}
	var out []store.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		if ok, err := s.listable(tx, jobID); !ok || err != nil {
			return err
		}
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
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %d: %w", binary.BigEndian.Uint64(k), err)
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

// listable reports whether a job's results may be read: its record is
// within the retention, or, for a job without a record, its last result
// is.
func (s *Store) listable(tx *bbolt.Tx, id string) (bool, error) {
	var meta jobMeta
	if tx.Bucket(bucketJobs).Get([]byte(id)) != nil {
		return s.liveJob(tx, id, &meta)
	}
	var c counts
	if _, err := getJSON(tx.Bucket(bucketCounts), []byte(id), &c); err != nil {
		return false, err
	}
	return s.now().Before(store.Expiry(c.LastAt, s.retention)), nil
}

// binaryTime reads the big-endian time that starts an expiry key.
func binaryTime(k []byte) uint64 { return binary.BigEndian.Uint64(k[:8]) }
