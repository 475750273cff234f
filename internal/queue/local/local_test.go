package local

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/queuetest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) queuetest.Harness {
		q, err := Open(filepath.Join(t.TempDir(), "queue.db"), Options{
			VisibilityTimeout: cfg.Visibility, MaxReceiveCount: cfg.MaxReceiveCount,
		})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { q.Close() })
		return queuetest.Harness{Queue: q, DeadLetter: q.DeadLetter()}
	})
}

// TestRestart checks what survives a restart: queued and delayed messages
// keep their state, in-flight ones are visible again at once.
func TestRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "queue.db")
	opts := Options{VisibilityTimeout: time.Hour, MaxReceiveCount: 5}
	q, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	m := func(i int) queue.Message {
		return queue.Message{Version: 1, JobID: "j", Items: []queue.Item{{Index: i, Email: "a@x"}}}
	}
	if err := q.Send(ctx, []queue.Message{m(0), m(1)}, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := q.Send(ctx, []queue.Message{m(2)}, 10*time.Minute); err != nil {
		t.Fatalf("Send(delayed): %v", err)
	}
	ds, err := q.Receive(ctx, 2, time.Second)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Receive = %d deliveries, %v; want 2", len(ds), err)
	}
	// One goes back with a long delay, which a restart must keep.
	if err := q.Retry(ctx, ds[1], time.Hour); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	q, err = Open(path, opts)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	got, err := q.Receive(ctx, 10, time.Second)
	if err != nil {
		t.Fatalf("Receive after restart: %v", err)
	}
	if len(got) != 1 || got[0].ID != ds[0].ID || got[0].ReceiveCount != 2 {
		t.Fatalf("after restart got %+v, want only the in-flight message %s with receive count 2", got, ds[0].ID)
	}
	if err := q.Retry(ctx, ds[0], 0); err == nil {
		t.Errorf("Retry with the receipt from before the restart succeeded, want ErrReceiptInvalid")
	}
}

// BenchmarkRoundTrip measures one message through Send, Receive and Delete
// (three fsynced bbolt transactions).
func BenchmarkRoundTrip(b *testing.B) {
	ctx := context.Background()
	q, err := Open(filepath.Join(b.TempDir(), "queue.db"), Options{})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer q.Close()
	m := []queue.Message{{Version: 1, JobID: "j", Items: []queue.Item{{Index: 0, Email: "a@x.com"}}}}
	for b.Loop() {
		if err := q.Send(ctx, m, 0); err != nil {
			b.Fatal(err)
		}
		ds, err := q.Receive(ctx, 1, time.Second)
		if err != nil || len(ds) != 1 {
			b.Fatalf("Receive = %d, %v", len(ds), err)
		}
		if err := q.Delete(ctx, ds[0]); err != nil {
			b.Fatal(err)
		}
	}
}
