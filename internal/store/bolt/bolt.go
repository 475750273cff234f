// Package bolt is the embedded store: every job, result, cache item and
// counter in one bbolt file, for `mailprobe serve` on one machine without AWS.
//
// Every method is one bbolt transaction, so a result and its counting are
// atomic and the file survives a crash or a restart in a consistent state.
// The layout (top-level buckets, keys big-endian so that cursor order is
// numeric and chronological):
//
//	jobs      job id → job JSON (total, created_at, webhook)
//	counts    job id → per-verdict counters and the time of the last count
//	results   job id → nested bucket: index (u64) → Record JSON
//	verdicts  job id → nested bucket: verdict 0x00 created_at (u64) index (u64) → ∅
//	addrs     normalized 0x00 created_at (u64) job id 0x00 index (u64) → [job id, index]
//	cache     key → {value, expiry}
//	counters  key → {n, expiry}
package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
)

var (
	bucketJobs     = []byte("jobs")
	bucketCounts   = []byte("counts")
	bucketResults  = []byte("results")
	bucketVerdicts = []byte("verdicts")
	bucketAddrs    = []byte("addrs")
	bucketCache    = []byte("cache")
	bucketCounters = []byte("counters")
	bucketWaiting  = []byte("waiting") // job id → index → due (unix nanoseconds)
)

// Store is a store.Store-shaped embedded store. Its methods are safe for
// concurrent use.
type Store struct {
	db  *bbolt.DB
	now func() time.Time
}

// Option configures Open.
type Option func(*Store)

// WithClock replaces time.Now, the clock that stamps counted results (the
// job's finished_at) and decides whether a counter window has expired.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens or creates the store file at path. bbolt locks the file, so one
// process at a time owns it; a second Open of the same path waits for up to
// ten seconds and then fails.
func Open(path string, opts ...Option) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("bolt store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketJobs, bucketCounts, bucketResults, bucketVerdicts, bucketAddrs, bucketCache, bucketCounters, bucketWaiting} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt store: init %s: %w", path, err)
	}
	// PutResult batches concurrent writes; a short delay keeps a lone
	// writer fast while still folding a worker's parallel writes together.
	db.MaxBatchDelay = 2 * time.Millisecond
	s := &Store{db: db, now: time.Now}
	for _, o := range opts {
		o(s)
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
