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

func testStoreResultsValidation(t *testing.T, s Store) {
	ctx := context.Background()
	good := record("job-v", 0, store.Safe, base)
	key := store.MessageKey(0, []int{0})
	tests := []struct {
		name   string
		key    string
		mutate func(*store.Record)
	}{
		{"empty job", key, func(r *store.Record) { r.JobID = "" }},
		{"negative index", key, func(r *store.Record) { r.Index = -1 }},
		{"huge index", key, func(r *store.Record) { r.Index = store.MaxIndex + 1 }},
		{"bad verdict", key, func(r *store.Record) { r.IsReachable = "maybe" }},
		{"result not JSON", key, func(r *store.Record) { r.Result = []byte("{") }},
		{"empty key", "", func(*store.Record) {}},
		{"key with a slash", "a/b", func(*store.Record) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mutate(&r)
			if _, _, err := s.StoreResults(ctx, "job-v", tt.key, []store.Record{r}); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("StoreResults = %v, want ErrInvalid", err)
			}
		})
	}
	if _, _, err := s.StoreResults(ctx, "job-v", key, []store.Record{good, good}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("StoreResults(repeated index) = %v, want ErrInvalid", err)
	}
	if _, _, err := s.StoreResults(ctx, "job-v", key, []store.Record{record("job-w", 0, store.Safe, base)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("StoreResults(another job's record) = %v, want ErrInvalid", err)
	}
	bad := store.Settled("job-v", key, 0, "d", []store.Record{good}, []store.Part{{Indices: []int{0}, Reason: "r"}})
	if _, _, err := s.Settle(ctx, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Settle(index both stored and handed back) = %v, want ErrInvalid", err)
	}
}

// testStoreResultsFirstWins stores results twice under one key: the
// second call gets the first call's records, before and after Settle.
func testStoreResultsFirstWins(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-f", 3)
	key := store.MessageKey(0, []int{0, 1, 2})
	first := records("job-f", []int{0, 2}, base)
	got, created, err := s.StoreResults(ctx, "job-f", key, first)
	if err != nil || !created || len(got) != 2 || !sameRecord(got[0], first[0]) || !sameRecord(got[1], first[1]) {
		t.Fatalf("first StoreResults = %v, %v, %v; want the records, created", got, created, err)
	}
	again := records("job-f", []int{0, 1, 2}, base.Add(time.Hour))
	got, created, err = s.StoreResults(ctx, "job-f", key, again)
	if err != nil || created || !slices.Equal(indices(got), []int{0, 2}) || !sameRecord(got[1], first[1]) {
		t.Errorf("second StoreResults = %v, %v, %v; want the first records, not created", indices(got), created, err)
	}
	if j := mustJob(t, s, "job-f"); j.Processed != 0 {
		t.Errorf("results count before their outcome is settled: %+v", j)
	}
	if recs, err := s.ListResults(ctx, "job-f", 0, 10); err != nil || len(recs) != 0 {
		t.Errorf("ListResults before Settle = %v, %v; want nothing", indices(recs), err)
	}
	// Once settled, a late twin still gets the first records.
	if _, _, err := s.Settle(ctx, store.Settled("job-f", key, 0, "", got, nil)); err != nil {
		t.Fatal(err)
	}
	got, created, err = s.StoreResults(ctx, "job-f", key, again)
	if err != nil || created || !slices.Equal(indices(got), []int{0, 2}) || !sameRecord(got[1], first[1]) {
		t.Errorf("StoreResults after Settle = %v, %v, %v; want the first records, not created", indices(got), created, err)
	}
	if j := mustJob(t, s, "job-f"); j.Processed != 2 {
		t.Errorf("after Settle and a late twin: %+v, want 2 processed", j)
	}
}

// testSettleFirstWins settles one key twice: the first outcome stands,
// and Outcome returns it as it was settled.
func testSettleFirstWins(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-s", 4)
	items := []int{0, 1, 2, 3}
	key := store.MessageKey(2, items)
	if _, err := s.Outcome(ctx, "job-s", key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Outcome before Settle = %v, want ErrNotFound", err)
	}
	stored, _, err := s.StoreResults(ctx, "job-s", key, records("job-s", []int{1, 3}, base))
	if err != nil {
		t.Fatal(err)
	}
	until := base.Add(90 * time.Second)
	parts := []store.Part{{Indices: []int{2, 0}, Reason: "politeness", Until: until}}
	first, created, err := s.Settle(ctx, store.Settled("job-s", key, 2, "delivery-1", stored, parts))
	if err != nil || !created {
		t.Fatalf("first Settle = %v, %v", created, err)
	}
	second, created, err := s.Settle(ctx, store.Settled("job-s", key, 2, "delivery-2", nil, []store.Part{{Indices: items, Reason: "deadline"}}))
	if err != nil || created || second.By != "delivery-1" {
		t.Errorf("second Settle = %+v, %v, %v; want the first outcome", second, created, err)
	}
	got, err := s.Outcome(ctx, "job-s", key)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Outcome{JobID: "job-s", Key: key, Hop: 2, By: "delivery-1", At: first.At,
		Stored: []store.Verdict{{Index: 1, Verdict: verdictOf(1)}, {Index: 3, Verdict: verdictOf(3)}},
		Parts:  []store.Part{{Indices: []int{0, 2}, Reason: "politeness", Until: until}}}
	if !sameOutcome(got, want) {
		t.Errorf("Outcome = %+v, want %+v", got, want)
	}
	if j := mustJob(t, s, "job-s"); j.Processed != 2 || j.WaitingReasons["politeness"] != 2 || j.Waiting != 2 ||
		j.NextRetryAt == nil || j.NextRetryAt.Sub(until).Abs() >= time.Millisecond {
		t.Errorf("GetJob = %+v, want 2 processed, 2 waiting for politeness", j)
	}
}

func sameOutcome(a, b store.Outcome) bool {
	if a.JobID != b.JobID || a.Key != b.Key || a.Hop != b.Hop || a.By != b.By || !a.At.Equal(b.At) ||
		!slices.Equal(a.Stored, b.Stored) || len(a.Parts) != len(b.Parts) {
		return false
	}
	for i := range a.Parts {
		p, q := a.Parts[i], b.Parts[i]
		// Until is kept to the millisecond.
		if !slices.Equal(p.Indices, q.Indices) || p.Reason != q.Reason || p.Until.Sub(q.Until).Abs() >= time.Millisecond {
			return false
		}
	}
	return true
}

// testConcurrentDeliveries delivers each of 30 messages twice at once,
// with different results: one delivery's results stand, and each address
// is counted and listed once.
func testConcurrentDeliveries(t *testing.T, s Store) {
	const messages, per = 30, 4
	ctx := context.Background()
	mustCreateJob(t, s, "job-dup", messages*per)
	for m := range messages {
		items := span(m*per, (m+1)*per)
		var wg sync.WaitGroup
		var created [2]bool
		var outs [2]store.Outcome
		for g := range 2 {
			recs := records("job-dup", items, base.Add(time.Duration(g)*time.Hour))
			if g == 1 {
				recs = recs[:2] // the other delivery concluded fewer
			}
			wg.Go(func() {
				key := store.MessageKey(0, items)
				stored, c, err := s.StoreResults(ctx, "job-dup", key, recs)
				if err != nil {
					t.Error(err)
					return
				}
				o, _, err := s.Settle(ctx, store.Settled("job-dup", key, 0, "d", stored, nil))
				if err != nil {
					t.Error(err)
				}
				created[g], outs[g] = c, o
			})
		}
		wg.Wait()
		if created[0] == created[1] {
			t.Errorf("message %d: created = %v, want exactly one true", m, created)
		}
		if !slices.Equal(outs[0].Stored, outs[1].Stored) {
			t.Errorf("message %d: outcomes differ: %+v / %+v", m, outs[0].Stored, outs[1].Stored)
		}
	}
	j := mustJob(t, s, "job-dup")
	recs, err := s.ListResults(ctx, "job-dup", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var want store.Summary
	for _, r := range recs {
		want.Add(r.IsReachable)
	}
	if j.Processed != len(recs) || j.Summary != want || j.Processed < messages*2 || j.Processed > messages*per {
		t.Errorf("GetJob = %+v; %d records listed (%+v)", j, len(recs), want)
	}
	if !slices.IsSorted(indices(recs)) || len(slices.Compact(indices(recs))) != len(recs) {
		t.Errorf("ListResults indices %v, want ascending and distinct", indices(recs))
	}
}

// testCrashBetweenStoreAndSettle stores a message's results and dies
// before settling; the redelivery's own results lose to the stored ones,
// which then count once.
func testCrashBetweenStoreAndSettle(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-c", 2)
	items := []int{0, 1}
	key := store.MessageKey(0, items)
	first := []store.Record{record("job-c", 0, store.Invalid, base), record("job-c", 1, store.Invalid, base)}
	if _, _, err := s.StoreResults(ctx, "job-c", key, first); err != nil {
		t.Fatal(err)
	}
	if j := mustJob(t, s, "job-c"); j.Processed != 0 {
		t.Fatalf("GetJob after the crash = %+v, want nothing counted", j)
	}
	redelivered := records("job-c", items, base.Add(time.Hour))
	o, created := deliver(t, s, "job-c", 0, items, "d", redelivered, nil)
	if created || len(o.Stored) != 2 || o.Stored[0].Verdict != store.Invalid {
		t.Errorf("redelivery = %+v, created %v; want the stored invalid results", o, created)
	}
	deliver(t, s, "job-c", 0, items, "d", redelivered, nil) // and again: nothing changes
	j := mustJob(t, s, "job-c")
	if j.Processed != 2 || j.Summary != (store.Summary{Invalid: 2}) || j.FinishedAt == nil {
		t.Errorf("GetJob = %+v, want two invalid results, finished", j)
	}
}

// testOverlappingMessages stores one index under two keys (a producer
// sent overlapping messages): it counts and lists once, as the outcome
// settled first stored it.
func testOverlappingMessages(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-o", 3)
	deliver(t, s, "job-o", 0, []int{0, 1}, "a", []store.Record{record("job-o", 0, store.Safe, base), record("job-o", 1, store.Safe, base)}, nil)
	time.Sleep(2 * time.Millisecond) // settled strictly later
	deliver(t, s, "job-o", 0, []int{1, 2}, "b", []store.Record{record("job-o", 1, store.Invalid, base), record("job-o", 2, store.Invalid, base)}, nil)
	j := mustJob(t, s, "job-o")
	if j.Processed != 3 || j.Summary != (store.Summary{Safe: 2, Invalid: 1}) || j.Status() != store.StatusCompleted {
		t.Errorf("GetJob = %+v, want 2 safe 1 invalid", j)
	}
	recs, err := s.ListResults(ctx, "job-o", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(indices(recs), []int{0, 1, 2}) || recs[1].IsReachable != store.Safe {
		t.Errorf("ListResults = %+v, want 0 1 2 with 1 safe", recs)
	}
}

// testWaiting hands parts back and follows them: a part waits until a
// message of its own (one hop more, its indices) is settled.
func testWaiting(t *testing.T, s Store) {
	mustCreateJob(t, s, "job-w", 6)
	until := base.Add(time.Minute)
	deliver(t, s, "job-w", 0, span(0, 6), "a", records("job-w", []int{0}, base), []store.Part{
		{Indices: []int{1, 2}, Reason: "politeness", Until: until},
		{Indices: []int{3, 4}, Reason: "greylisted", Until: until},
		{Indices: []int{5}, Reason: "politeness", Until: until.Add(time.Minute)},
	})
	if j := mustJob(t, s, "job-w"); j.Processed != 1 || j.Waiting != 5 || len(j.WaitingReasons) != 2 ||
		j.WaitingReasons["politeness"] != 3 || j.WaitingReasons["greylisted"] != 2 || j.NextRetryAt == nil {
		t.Fatalf("GetJob = %+v, want 3 waiting for politeness, 2 greylisted", j)
	}
	// The greylisted part comes back; one address concludes, the other
	// waits again.
	deliver(t, s, "job-w", 1, []int{3, 4}, "b", records("job-w", []int{3}, base), []store.Part{
		{Indices: []int{4}, Reason: "greylisted", Until: until.Add(5 * time.Minute)}})
	deliver(t, s, "job-w", 1, []int{1, 2}, "c", records("job-w", []int{1, 2}, base), nil)
	if j := mustJob(t, s, "job-w"); j.Processed != 4 || j.Waiting != 2 || j.WaitingReasons["politeness"] != 1 ||
		j.WaitingReasons["greylisted"] != 1 || j.NextRetryAt == nil || !j.NextRetryAt.After(until.Add(time.Second)) {
		t.Errorf("GetJob = %+v, want 1 waiting for politeness, 1 greylisted", j)
	}
	deliver(t, s, "job-w", 2, []int{4}, "d", records("job-w", []int{4}, base), nil)
	deliver(t, s, "job-w", 1, []int{5}, "e", records("job-w", []int{5}, base), nil)
	if j := mustJob(t, s, "job-w"); j.Processed != 6 || j.Waiting != 0 || j.WaitingReasons != nil || j.NextRetryAt != nil ||
		j.Status() != store.StatusCompleted {
		t.Errorf("GetJob = %+v, want all processed, none waiting", j)
	}
}

func testPutResult(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-p", 2)
	first := record("job-p", 1, store.Safe, base)
	got, created, err := s.PutResult(ctx, first)
	if err != nil || !created || !sameRecord(got, first) {
		t.Fatalf("PutResult = %+v, %v, %v", got, created, err)
	}
	got, created, err = s.PutResult(ctx, record("job-p", 1, store.Unknown, base.Add(time.Hour)))
	if err != nil || created || !sameRecord(got, first) {
		t.Errorf("PutResult again = %+v, %v, %v; want the first record", got, created, err)
	}
	if j := mustJob(t, s, "job-p"); j.Processed != 1 || j.Summary != (store.Summary{Safe: 1}) || j.FinishedAt != nil {
		t.Errorf("GetJob = %+v, want 1 safe, unfinished", j)
	}
	if _, _, err := s.PutResult(ctx, record("job-p", -1, store.Safe, base)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutResult(bad index) = %v, want ErrInvalid", err)
	}
}
