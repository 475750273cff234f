package bolt

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/storetest"
)

func open(t *testing.T, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time, retention time.Duration) storetest.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"), WithClock(now), WithRetention(retention))
	})
}

// TestReopen checks that jobs, results and counters survive a restart.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	at := time.Now().UTC().Add(-time.Hour)
	if err := s.CreateJob(ctx, store.Job{ID: "j", Total: 2, CreatedAt: at}); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	rec := store.Record{JobID: "j", Index: 1, Input: "a@b.c", Normalized: "a@b.c", IsReachable: store.Safe, CreatedAt: at}
	if _, _, err := s.PutResult(ctx, rec); err != nil {
		t.Fatalf("PutResult: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, path)
	if _, created, err := s.PutResult(ctx, rec); err != nil || created {
		t.Errorf("PutResult after reopen = created %v, %v; want the stored record", created, err)
	}
	job, err := s.GetJob(ctx, "j")
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if job.Processed != 1 || job.Summary.Safe != 1 || !job.CreatedAt.Equal(at) {
		t.Errorf("GetJob after reopen = %+v, want 1 safe result", job)
	}
}

// TestPurge checks that Open and Purge delete what is past the retention:
// the job, its results, and expired cache items.
func TestPurge(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	now := time.Now()
	s := open(t, path, WithClock(func() time.Time { return now }), WithRetention(time.Hour))
	if err := s.CreateJob(ctx, store.Job{ID: "old", Total: 1}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"old", "jobless"} {
		if _, _, err := s.PutResult(ctx, store.Record{JobID: id, Index: 0, Input: "a@b.c", IsReachable: store.Safe}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutCache(ctx, "k", []byte(`1`), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if n, err := s.Purge(); err != nil || n != 2 {
		t.Errorf("Purge = %d, %v; want 2 jobs", n, err)
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketJobs, bucketGroups, bucketOutcomes, bucketResults, bucketCounts, bucketExpiry, bucketCache} {
			if k, _ := tx.Bucket(b).Cursor().First(); k != nil {
				t.Errorf("bucket %s still holds %q", b, k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func BenchmarkDeliver(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "store.db"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer s.Close()
	storetest.BenchmarkDeliver(b, s)
}
