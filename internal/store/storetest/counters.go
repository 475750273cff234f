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
func testIncrBy(t *testing.T, s Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for i, tc := range []struct{ by, want int64 }{{3, 3}, {1, 4}, {10, 14}} {
		got, err := s.IncrBy(ctx, "by", tc.by, exp)
		if err != nil || got != tc.want {
			t.Fatalf("step %d: IncrBy(%d) = %d, %v; want %d", i, tc.by, got, err, tc.want)
		}
	}
	if _, err := s.IncrBy(ctx, "by", 0, exp); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("IncrBy(0) error = %v, want ErrInvalid", err)
	}
}

// testReserve books time on a key: bookings follow one another while the
// key is busy, start at now once it is idle, and a refund of the last one
// shortens it.
func testReserve(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	exp := now.Add(time.Hour)
	for i, want := range []time.Time{now, now.Add(3 * time.Second), now.Add(6 * time.Second)} {
		got, err := s.Reserve(ctx, "mx", 3*time.Second, now, exp)
		if err != nil || !got.Equal(want) {
			t.Fatalf("Reserve #%d = %v, %v; want %v", i, got, err, want)
		}
	}
	if err := s.Unreserve(ctx, "mx", now.Add(6*time.Second), time.Second); err != nil { // not the last: ignored
		t.Fatal(err)
	}
	if err := s.Unreserve(ctx, "mx", now.Add(9*time.Second), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Reserve(ctx, "mx", time.Second, now.Add(time.Second), exp); err != nil || !got.Equal(now.Add(7*time.Second)) {
		t.Errorf("Reserve after a refund = %v, %v; want +7s", got, err)
	}
	later := now.Add(time.Minute)
	if got, err := s.Reserve(ctx, "mx", time.Second, later, exp); err != nil || !got.Equal(later) {
		t.Errorf("Reserve once idle = %v, %v; want now", got, err)
	}
	if got, err := s.Reserve(ctx, "other", time.Second, now, exp); err != nil || !got.Equal(now) {
		t.Errorf("Reserve of another key = %v, %v; want now", got, err)
	}
}

// testReserveConcurrent books from 8 goroutines at once: the bookings
// never overlap.
func testReserveConcurrent(t *testing.T, s Store) {
	const goroutines, each = 8, 10
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	starts := make(chan time.Time, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				at, err := s.Reserve(ctx, "busy", time.Second, now, now.Add(time.Hour))
				if err != nil {
					t.Error(err)
					return
				}
				starts <- at
			}
		})
	}
	wg.Wait()
	close(starts)
	var got []time.Time
	for at := range starts {
		got = append(got, at)
	}
	slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
	for i, at := range got {
		if !at.Equal(now.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("booking %d starts at +%v, want +%ds: bookings overlap or leave gaps", i, at.Sub(now), i)
		}
	}
}
