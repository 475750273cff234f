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

// testCountersExact delivers 2 000 addresses in messages of 40 from 8
// goroutines: a quarter of the messages twice (a redelivery racing the
// first, with other verdicts), some handing part of their items back to
// a message of the next hop, some dying between storing and settling.
// Every counter must match what is stored.
func testCountersExact(t *testing.T, s Store) {
	const total, per = 2000, 40
	ctx := context.Background()
	mustCreateJob(t, s, "job-big", total)
	type delivery struct {
		hop   int
		items []int
		recs  []store.Record
		parts []store.Part
		crash bool
	}
	work := make(chan delivery)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for d := range work {
				key := store.MessageKey(d.hop, d.items)
				stored, _, err := s.StoreResults(ctx, "job-big", key, d.recs)
				if err != nil {
					t.Errorf("StoreResults: %v", err)
					continue
				}
				if d.crash {
					continue
				}
				if _, _, err := s.Settle(ctx, store.Settled("job-big", key, d.hop, "w", stored, without(d.parts, stored))); err != nil {
					t.Errorf("Settle: %v", err)
				}
			}
		})
	}
	for m := 0; m < total/per; m++ {
		items := span(m*per, (m+1)*per)
		recs := records("job-big", items, base.Add(time.Duration(m)*time.Microsecond))
		switch m % 4 {
		case 0: // all stored at once
			work <- delivery{items: items, recs: recs}
		case 1: // raced by a redelivery with other verdicts
			work <- delivery{items: items, recs: recs}
			other := slices.Clone(recs)
			for i := range other {
				other[i].IsReachable = store.Unknown
			}
			work <- delivery{items: items, recs: other}
		case 2: // half handed back, then stored a hop later
			part := store.Part{Indices: items[per/2:], Reason: "politeness", Until: base}
			work <- delivery{items: items, recs: recs[:per/2], parts: []store.Part{part}}
			work <- delivery{hop: 1, items: items[per/2:], recs: recs[per/2:]}
		case 3: // died after storing; the redelivery settles
			work <- delivery{items: items, recs: recs, crash: true}
			work <- delivery{items: items, recs: recs}
		}
	}
	close(work)
	wg.Wait()
	j := mustJob(t, s, "job-big")
	stored, err := s.ListResults(ctx, "job-big", 0, 2*total)
	if err != nil {
		t.Fatalf("ListResults: %v", err)
	}
	var want store.Summary
	for i, r := range stored {
		want.Add(r.IsReachable)
		if r.Index != i || (r.IsReachable != verdictOf(i) && r.IsReachable != store.Unknown) {
			t.Fatalf("stored record %d = index %d %s, want index %d", i, r.Index, r.IsReachable, i)
		}
	}
	if len(stored) != total || j.Processed != total || j.Summary != want || j.FinishedAt == nil ||
		j.Status() != store.StatusCompleted || j.Waiting != 0 {
		t.Errorf("GetJob = processed %d summary %+v finished %v waiting %v, want %d %+v (%d stored)",
			j.Processed, j.Summary, j.FinishedAt, j.Waiting, total, want, len(stored))
	}
}

func testListResults(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-l", 30)
	var want []int
	// Stored by messages of scattered indices (a domain's addresses), out
	// of order, with a gap at 7 and 20-29 still missing.
	for _, items := range [][]int{{19, 3, 0}, {11, 5}, {18, 1, 2, 4}, {6, 8, 9, 10, 12}, {13, 14, 15, 16, 17}} {
		deliver(t, s, "job-l", 0, items, "d", records("job-l", items, base), nil)
	}
	for i := range 20 {
		if i != 7 {
			want = append(want, i)
		}
	}
	deliver(t, s, "job-other", 0, []int{7}, "d", records("job-other", []int{7}, base), nil) // another job's row never shows
	tests := []struct {
		offset, limit int
		want          []int
	}{
		{0, 10, want[:10]},
		{10, 10, want[10:]},
		{0, 100, want},
		{17, 5, want[17:]},
		{19, 5, nil},
		{50, 5, nil},
	}
	for _, tt := range tests {
		got, err := s.ListResults(ctx, "job-l", tt.offset, tt.limit)
		if err != nil {
			t.Fatalf("ListResults(%d, %d): %v", tt.offset, tt.limit, err)
		}
		if !slices.Equal(indices(got), tt.want) {
			t.Errorf("ListResults(%d, %d) = %v, want %v", tt.offset, tt.limit, indices(got), tt.want)
		}
		for _, r := range got {
			if !sameRecord(r, record("job-l", r.Index, verdictOf(r.Index), base)) {
				t.Errorf("ListResults: record %d = %+v, not what was stored", r.Index, r)
			}
		}
	}
	if _, err := s.ListResults(ctx, "job-l", -1, 10); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ListResults(offset -1) = %v, want ErrInvalid", err)
	}
	if got, err := s.ListResults(ctx, "job-none", 0, 10); err != nil || len(got) != 0 {
		t.Errorf("ListResults(unknown job) = %v, %v; want empty, nil", got, err)
	}
}

// testListResultsWithoutJob lists results of a job id that has no job
// record (Reacher's producers write results without one).
func testListResultsWithoutJob(t *testing.T, s Store) {
	ctx := context.Background()
	for _, i := range []int{1_000_000_000_000_007, 1_000_000_000_000_003} {
		if _, _, err := s.PutResult(ctx, record("reacher-bulk-1", i, store.Safe, base)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListResults(ctx, "reacher-bulk-1", 0, 10)
	if err != nil || !slices.Equal(indices(got), []int{1_000_000_000_000_003, 1_000_000_000_000_007}) {
		t.Errorf("ListResults = %v, %v", indices(got), err)
	}
	if _, err := s.GetJob(ctx, "reacher-bulk-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJob = %v, want ErrNotFound", err)
	}
}

// testRetention moves the clock past the retention: the job, its
// results and its outcomes are gone for every read.
func testRetention(t *testing.T, open Opener) {
	ctx := context.Background()
	now := base
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	s := open(t, clock, 48*time.Hour)
	if err := s.CreateJob(ctx, store.Job{ID: "job-r", Total: 2}); err != nil {
		t.Fatal(err)
	}
	o, _ := deliver(t, s, "job-r", 0, []int{0, 1}, "d", records("job-r", []int{0, 1}, time.Time{}), nil)
	if _, _, err := s.PutResult(ctx, record("jobless", 0, store.Safe, time.Time{})); err != nil {
		t.Fatal(err)
	}
	check := func(when string, live bool) {
		t.Helper()
		j, err := s.GetJob(ctx, "job-r")
		if live != (err == nil) || live && j.Processed != 2 {
			t.Errorf("%s: GetJob = %+v, %v; want live %v", when, j, err, live)
		}
		if !live && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: GetJob error %v, want ErrNotFound", when, err)
		}
		for _, id := range []string{"job-r", "jobless"} {
			if recs, err := s.ListResults(ctx, id, 0, 10); err != nil || live != (len(recs) > 0) {
				t.Errorf("%s: ListResults(%s) = %d records, %v; want live %v", when, id, len(recs), err, live)
			}
		}
		if _, err := s.Outcome(ctx, "job-r", o.Key); live != (err == nil) {
			t.Errorf("%s: Outcome = %v, want live %v", when, err, live)
		}
	}
	set := func(t time.Time) {
		mu.Lock()
		now = t
		mu.Unlock()
	}
	set(base.Add(47 * time.Hour))
	check("within the retention", true)
	set(base.Add(48*time.Hour + time.Second))
	check("after the retention", false)
}
