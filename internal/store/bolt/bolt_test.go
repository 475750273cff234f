package bolt

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
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
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
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
	if got, err := s.LatestByAddress(ctx, "a@b.c"); err != nil || got.Index != 1 {
		t.Errorf("LatestByAddress after reopen = %+v, %v", got, err)
	}
}

func BenchmarkPutResult(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "store.db"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer s.Close()
	storetest.BenchmarkPutResult(b, s)
}
