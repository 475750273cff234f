package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

// testWaiting checks the addresses waiting for a retry: counted until their
// result is stored, the earliest due time reported, a wait set again moved,
// and a wait set after the result (a late duplicate delivery) ignored.
func testWaiting(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-w", 3)
	t1, t2 := base.Add(time.Minute), base.Add(5*time.Minute)
	check := func(step string, waiting int, next *time.Time) {
		t.Helper()
		j, err := s.GetJob(ctx, "job-w")
		if err != nil {
			t.Fatalf("%s: GetJob: %v", step, err)
		}
		if j.Waiting != waiting || (next == nil) != (j.NextRetryAt == nil) || next != nil && !j.NextRetryAt.Equal(*next) {
			t.Errorf("%s: waiting %d, next %v; want %d, %v", step, j.Waiting, j.NextRetryAt, waiting, next)
		}
	}
	check("new job", 0, nil)
	if err := s.SetWaiting(ctx, "job-w", []store.Wait{{Index: 0, Due: t2}, {Index: 1, Due: t2}, {Index: 2000, Due: t2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWaiting(ctx, "job-w", []store.Wait{{Index: 1, Due: t1}}); err != nil {
		t.Fatal(err)
	}
	check("three waiting", 3, &t1)
	mustPut(t, s, record("job-w", 1, store.Safe, base))
	check("one stored", 2, &t2)
	if err := s.SetWaiting(ctx, "job-w", []store.Wait{{Index: 1, Due: t1}}); err != nil {
		t.Fatal(err)
	}
	check("a late wait for a stored result", 2, &t2)
	mustPut(t, s, record("job-w", 0, store.Unknown, base))
	mustPut(t, s, record("job-w", 2000, store.Safe, base))
	check("all stored", 0, nil)
	if err := s.SetWaiting(ctx, "", []store.Wait{{Index: 0, Due: t1}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SetWaiting without a job id: %v, want ErrInvalid", err)
	}
	if err := s.SetWaiting(ctx, "job-w", []store.Wait{{Index: -1, Due: t1}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SetWaiting with a negative index: %v, want ErrInvalid", err)
	}
}
