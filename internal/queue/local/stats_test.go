package local

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// TestStats follows messages through every state with a settable clock:
// visible, delayed (with their addresses), in flight, dead-lettered.
func TestStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := Open(filepath.Join(t.TempDir(), "queue.db"), Options{VisibilityTimeout: time.Hour, MaxReceiveCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	q.now = func() time.Time { return now }
	q.dlq.now = q.now
	msg := func(n int) queue.Message {
		m := queue.Message{Version: queue.Version, JobID: "j"}
		for i := range n {
			m.Items = append(m.Items, queue.Item{Index: i, Email: "a@x.com"})
		}
		return m
	}
	stats := func() (Stats, Stats) {
		t.Helper()
		w, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d, err := q.DeadLetter().Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return w, d
	}
	if w, d := stats(); w != (Stats{}) || d != (Stats{}) {
		t.Fatalf("empty queue: %+v %+v", w, d)
	}
	if err := q.Send(ctx, []queue.Message{msg(1), msg(1)}, 0); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := q.Send(ctx, []queue.Message{msg(3), msg(2)}, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Second)
	want := Stats{Visible: 2, Delayed: 2, DelayedItems: 5, OldestAge: 90 * time.Second}
	if w, _ := stats(); w != want {
		t.Errorf("after sending: %+v, want %+v", w, want)
	}
	ds, err := q.Receive(ctx, 1, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Receive: %v %v", ds, err)
	}
	want = Stats{Visible: 1, Delayed: 2, InFlight: 1, DelayedItems: 5, OldestAge: 90 * time.Second}
	if w, _ := stats(); w != want {
		t.Errorf("one in flight: %+v, want %+v", w, want)
	}
	// The received message comes back at once and, received once
	// already, goes to the dead-letter queue on the next receive.
	if err := q.Retry(ctx, ds[0], 0); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Receive(ctx, 10, 0); err != nil {
		t.Fatal(err)
	}
	w, d := stats()
	if w.InFlight != 1 || w.Visible != 0 || d != (Stats{Visible: 1, OldestAge: 90 * time.Second}) {
		t.Errorf("after dead-lettering: work %+v, dead letters %+v", w, d)
	}
}
