// Package bolt is the embedded store: every job, result, cache item and
// counter in one bbolt file, for `mailprobe serve` on one machine without AWS.
//
// Every method is one bbolt transaction, so the file survives a crash or a
// restart in a consistent state. The layout (top-level buckets; indices and
// times big-endian so that cursor order is numeric and chronological):
//
//	jobs      job id → job JSON (total, created_at, webhook)
//	groups    job id → nested: message key → the records StoreResults staged, until Settle moves them
//	outcomes  job id → nested: message key → outcome JSON (Settle)
//	parts     job id → nested: message key → {hop, parts}, for outcomes that handed items back
//	results   job id → nested: index (u64) → Record JSON, the settled results (first wins)
//	counts    job id → per-verdict counters and the time of the last count
//	expiry    expiry (u64 ns) 0x00 job id → ∅, for Purge
//	cache     key → {value, expiry}
//	counters  key → {n, expiry}
//
// Settle moves a message's staged records into results and counts them in
// the same transaction, so reads see a result exactly when it counts.
// Retention: reads ignore a job past its retention, and Purge deletes it.
package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/store"
)

var (
	bucketJobs     = []byte("jobs")
	bucketGroups   = []byte("groups")
	bucketOutcomes = []byte("outcomes")
	bucketParts    = []byte("parts")
	bucketResults  = []byte("results")
	bucketCounts   = []byte("counts")
	bucketExpiry   = []byte("expiry")
	bucketCache    = []byte("cache")
	bucketCounters = []byte("counters")
	// Buckets of earlier versions, dropped at Open.
	oldBuckets = [][]byte{[]byte("verdicts"), []byte("addrs")}
)

// perJob lists the buckets that hold a nested bucket or a value per job.
var perJob = [][]byte{bucketJobs, bucketGroups, bucketOutcomes, bucketParts, bucketResults, bucketCounts}

// Store is a store.Store-shaped embedded store. Its methods are safe for
// concurrent use.
type Store struct {
	db        *bbolt.DB
	now       func() time.Time
	retention time.Duration
}

// Option configures Open.
type Option func(*Store)

// WithClock replaces time.Now, the clock that stamps settled outcomes (the
// job's finished_at), decides whether a counter window has expired and
// what retention has expired.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithRetention sets how long jobs and results are kept (default
// store.DefaultRetention).
func WithRetention(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.retention = d
		}
	}
}

// Open opens or creates the store file at path and purges what has
// expired. bbolt locks the file, so one process at a time owns it; a second
// Open of the same path waits for up to ten seconds and then fails.
func Open(path string, opts ...Option) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("bolt store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		all := [][]byte{bucketJobs, bucketGroups, bucketOutcomes, bucketParts, bucketResults, bucketCounts,
			bucketExpiry, bucketCache, bucketCounters}
		for _, b := range all {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		for _, b := range oldBuckets {
			if tx.Bucket(b) != nil {
				if err := tx.DeleteBucket(b); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt store: init %s: %w", path, err)
	}
	// Concurrent writes are batched; a short delay keeps a lone writer
	// fast while still folding a worker's parallel writes together.
	db.MaxBatchDelay = 2 * time.Millisecond
	s := &Store{db: db, now: time.Now, retention: store.DefaultRetention}
	for _, o := range opts {
		o(s)
	}
	if _, err := s.Purge(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the file.
func (s *Store) Close() error { return s.db.Close() }

// u64 encodes n big-endian so byte order is numeric order.
func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// timeKey maps a time to a u64 whose order is chronological, negative Unix
// times included (the sign bit flipped).
func timeKey(t time.Time) uint64 { return uint64(t.UnixNano()) ^ 1<<63 }

func getJSON(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("bolt store: decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bolt store: encode %q: %w", key, err)
	}
	return b.Put(key, raw)
}
