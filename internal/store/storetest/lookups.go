package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

func testResultsByVerdict(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-v", 12)
	// Index i is written at base+i minutes; verdicts cycle, so risky is 1, 5, 9.
	for _, i := range []int{9, 1, 5, 0, 2, 3, 4, 6, 7, 8, 10, 11} {
		mustPut(t, s, record("job-v", i, verdictOf(i), base.Add(time.Duration(i)*time.Minute)))
	}
	mustPut(t, s, record("job-w", 1, store.Risky, base)) // same verdict, another job
	tests := []struct {
		verdict string
		since   time.Time
		limit   int
		want    []int
	}{
		{store.Risky, time.Time{}, 10, []int{1, 5, 9}},
		{store.Risky, base.Add(5 * time.Minute), 10, []int{5, 9}}, // since is inclusive
		{store.Risky, base.Add(5*time.Minute + 1), 10, []int{9}},
		{store.Risky, time.Time{}, 2, []int{1, 5}},
		{store.Safe, base.Add(time.Hour), 10, nil},
		{store.Unknown, time.Time{}, 10, []int{3, 7, 11}},
	}
	for _, tt := range tests {
		got, err := s.ResultsByVerdict(ctx, "job-v", tt.verdict, tt.since, tt.limit)
		if err != nil {
			t.Fatalf("ResultsByVerdict(%s, %v, %d): %v", tt.verdict, tt.since, tt.limit, err)
		}
		if !slices.Equal(indices(got), tt.want) {
			t.Errorf("ResultsByVerdict(%s, %v, %d) = %v, want %v", tt.verdict, tt.since, tt.limit, indices(got), tt.want)
		}
	}
	if _, err := s.ResultsByVerdict(ctx, "job-v", "maybe", time.Time{}, 10); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ResultsByVerdict(bad verdict) = %v, want ErrInvalid", err)
	}
}

func testLatestByAddress(t *testing.T, s Store) {
	ctx := context.Background()
	const addr = "someone@example.com"
	write := func(job string, at time.Time, verdict string) store.Record {
		r := record(job, 0, verdict, at)
		r.Input, r.Normalized = "Someone@Example.com", addr
		mustPut(t, s, r)
		return r
	}
	write("job-1", base, store.Safe)
	latest := write("job-3", base.Add(2*time.Hour), store.Invalid)
	write("job-2", base.Add(time.Hour), store.Risky)
	mustPut(t, s, record("job-4", 0, store.Safe, base.Add(3*time.Hour))) // another address, later
	got, err := s.LatestByAddress(ctx, addr)
	if err != nil {
		t.Fatalf("LatestByAddress: %v", err)
	}
	if !sameRecord(got, latest) {
		t.Errorf("LatestByAddress = %+v, want %+v", got, latest)
	}
	for _, missing := range []string{"nobody@example.com", "someone@example.co", "someone@example.comm"} {
		if _, err := s.LatestByAddress(ctx, missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LatestByAddress(%s) = %v, want ErrNotFound", missing, err)
		}
	}
}

func testCache(t *testing.T, s Store) {
	ctx := context.Background()
	exp := base.Add(24 * time.Hour)
	if err := s.PutCache(ctx, "k1", []byte(`{"v":1}`), exp); err != nil {
		t.Fatalf("PutCache: %v", err)
	}
	tests := []struct {
		name string
		key  string
		now  time.Time
		want string // "" means a miss
	}{
		{"fresh", "k1", base, `{"v":1}`},
		{"just before expiry", "k1", exp.Add(-time.Nanosecond), `{"v":1}`},
		{"at expiry", "k1", exp, ""},
		{"long after", "k1", exp.Add(72 * time.Hour), ""},
		{"missing", "k2", base, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := s.GetCache(ctx, tt.key, tt.now)
			if err != nil {
				t.Fatalf("GetCache: %v", err)
			}
			if ok != (tt.want != "") || string(got) != tt.want {
				t.Errorf("GetCache(%s, %v) = %s, %v; want %q", tt.key, tt.now, got, ok, tt.want)
			}
		})
	}
	// Overwriting an expired item revives it with the new value.
	if err := s.PutCache(ctx, "k1", []byte(`{"v":2}`), exp.Add(time.Hour)); err != nil {
		t.Fatalf("PutCache: %v", err)
	}
	if got, ok, err := s.GetCache(ctx, "k1", exp); err != nil || !ok || string(got) != `{"v":2}` {
		t.Errorf("GetCache after overwrite = %s, %v, %v; want {\"v\":2}", got, ok, err)
	}
}

func testIncrConcurrent(t *testing.T, s Store) {
	const goroutines, each = 8, 25
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	seen := make(chan int64, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				n, err := s.Incr(ctx, "throttle:minute", exp)
				if err != nil {
					t.Errorf("Incr: %v", err)
					return
				}
				seen <- n
			}
		})
	}
	wg.Wait()
	close(seen)
	var got []int64
	for n := range seen {
		got = append(got, n)
	}
	slices.Sort(got)
	for i, n := range got {
		if n != int64(i+1) {
			t.Fatalf("Incr values = %v, want each of 1..%d once", got, goroutines*each)
		}
	}
	if n, err := s.Incr(ctx, "throttle:other", exp); err != nil || n != 1 {
		t.Errorf("Incr(other key) = %d, %v; want 1", n, err)
	}
}

func testIncrExpired(t *testing.T, s Store) {
	ctx := context.Background()
	past := time.Now().Add(-time.Minute)
	for i := range 3 {
		n, err := s.Incr(ctx, "window:old", past)
		if err != nil || n != 1 {
			t.Errorf("Incr #%d on an expired window = %d, %v; want 1 (a fresh window)", i, n, err)
		}
	}
	future := time.Now().Add(time.Hour)
	for want := int64(1); want <= 3; want++ {
		if n, err := s.Incr(ctx, "window:old", future); err != nil || n != want {
			t.Errorf("Incr on a renewed window = %d, %v; want %d", n, err, want)
		}
	}
}
