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

func testJobs(t *testing.T, s Store) {
	ctx := context.Background()
	webhook := []byte(`{"on_each_email":{"url":"http://127.0.0.1:1/hook"}}`)
	want := store.Job{ID: "job-a", Total: 3, CreatedAt: base, Webhook: webhook}
	if err := s.CreateJob(ctx, want); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if err := s.CreateJob(ctx, store.Job{ID: "job-a", Total: 9, CreatedAt: base}); !errors.Is(err, store.ErrJobExists) {
		t.Errorf("CreateJob(duplicate) = %v, want ErrJobExists", err)
	}
	got, err := s.GetJob(ctx, "job-a")
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if got.ID != want.ID || got.Total != 3 || !got.CreatedAt.Equal(base) || string(got.Webhook) != string(webhook) {
		t.Errorf("GetJob = %+v, want %+v", got, want)
	}
	if got.Processed != 0 || got.Summary != (store.Summary{}) || got.FinishedAt != nil || got.Status() != store.StatusRunning {
		t.Errorf("GetJob of a new job = %+v, want nothing processed", got)
	}
	if got.SingleShot {
		t.Errorf("GetJob of a bulk job: SingleShot true")
	}
	if err := s.CreateJob(ctx, store.Job{ID: "job-single", Total: 1, CreatedAt: base, SingleShot: true}); err != nil {
		t.Fatalf("CreateJob(single-shot): %v", err)
	}
	if got, err := s.GetJob(ctx, "job-single"); err != nil || !got.SingleShot || got.Total != 1 {
		t.Errorf("GetJob(single-shot) = %+v, %v; want SingleShot", got, err)
	}
	if _, err := s.GetJob(ctx, "job-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJob(missing) = %v, want ErrNotFound", err)
	}
	for _, bad := range []store.Job{{ID: "", Total: 1}, {ID: "job-b", Total: 0}, {ID: "job-c", Total: 1, Webhook: []byte("{")}} {
		if err := s.CreateJob(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateJob(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testPutResultValidation(t *testing.T, s Store) {
	good := record("job-v", 0, store.Safe, base)
	tests := []struct {
		name   string
		mutate func(*store.Record)
	}{
		{"empty job", func(r *store.Record) { r.JobID = "" }},
		{"negative index", func(r *store.Record) { r.Index = -1 }},
		{"huge index", func(r *store.Record) { r.Index = store.MaxIndex + 1 }},
		{"bad verdict", func(r *store.Record) { r.IsReachable = "maybe" }},
		{"result not JSON", func(r *store.Record) { r.Result = []byte("{") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mutate(&r)
			if _, _, err := s.PutResult(context.Background(), r); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("PutResult = %v, want ErrInvalid", err)
			}
		})
	}
}

// testConcurrentDuplicates delivers the same record from two goroutines at
// once, 50 times: exactly one write creates, both see the same stored
// record, and the job counts each index once.
func testConcurrentDuplicates(t *testing.T, s Store) {
	const n = 50
	mustCreateJob(t, s, "job-dup", n)
	for i := range n {
		rec := record("job-dup", i, verdictOf(i), base.Add(time.Duration(i)*time.Millisecond))
		var wg sync.WaitGroup
		var created [2]bool
		var got [2]store.Record
		var errs [2]error
		for g := range 2 {
			wg.Go(func() { got[g], created[g], errs[g] = s.PutResult(context.Background(), rec) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("index %d: PutResult errors %v, %v", i, errs[0], errs[1])
		}
		if created[0] == created[1] {
			t.Errorf("index %d: created = %v, %v, want exactly one true", i, created[0], created[1])
		}
		if !sameRecord(got[0], rec) || !sameRecord(got[1], rec) {
			t.Errorf("index %d: stored = %+v / %+v, want %+v", i, got[0], got[1], rec)
		}
	}
	job, err := s.GetJob(context.Background(), "job-dup")
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	want := store.Summary{Safe: 13, Risky: 13, Invalid: 12, Unknown: 12}
	if job.Processed != n || job.Summary != want || job.Status() != store.StatusCompleted {
		t.Errorf("GetJob = processed %d summary %+v status %s, want %d %+v Completed",
			job.Processed, job.Summary, job.Status(), n, want)
	}
}

// testRedeliveryKeepsFirst redelivers an index with a different verdict: the
// first write wins and is what gets counted.
func testRedeliveryKeepsFirst(t *testing.T, s Store) {
	mustCreateJob(t, s, "job-r", 2)
	first := record("job-r", 1, store.Safe, base)
	if _, created := mustPut(t, s, first); !created {
		t.Fatalf("first PutResult: created = false")
	}
	again := record("job-r", 1, store.Unknown, base.Add(time.Hour))
	got, created := mustPut(t, s, again)
	if created || !sameRecord(got, first) {
		t.Errorf("redelivery = %+v, created %v; want the first record, false", got, created)
	}
	job, err := s.GetJob(context.Background(), "job-r")
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if job.Processed != 1 || job.Summary != (store.Summary{Safe: 1}) || job.FinishedAt != nil {
		t.Errorf("GetJob = %+v, want 1 safe, unfinished", job)
	}
}

// testRecount recounts stored records, as a redelivery that finds them
// stored does: a counted record is never counted twice, and an invalid one
// is refused.
func testRecount(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-rc", 2)
	for i, verdict := range []string{store.Safe, store.Invalid} {
		mustPut(t, s, record("job-rc", i, verdict, base))
	}
	for i := range 2 {
		got, err := s.GetResult(ctx, "job-rc", i)
		if err != nil {
			t.Fatalf("GetResult(%d): %v", i, err)
		}
		for range 2 {
			if err := s.Recount(ctx, got); err != nil {
				t.Fatalf("Recount(%d): %v", i, err)
			}
		}
	}
	job, err := s.GetJob(ctx, "job-rc")
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if job.Processed != 2 || job.Summary != (store.Summary{Safe: 1, Invalid: 1}) || job.Status() != store.StatusCompleted {
		t.Errorf("GetJob after recounts = %+v, want 1 safe and 1 invalid, completed", job)
	}
	bad := record("job-rc", 0, "maybe", base)
	if err := s.Recount(ctx, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Recount(bad verdict) = %v, want ErrInvalid", err)
	}
}

// testCountersExact writes 2 000 results from 8 goroutines, a quarter of them
// twice (a redelivery with another verdict, racing the first delivery), and
// checks every counter against what was stored.
func testCountersExact(t *testing.T, s Store) {
	const total = 2000
	ctx := context.Background()
	mustCreateJob(t, s, "job-big", total)
	creates := putAll(t, s, total-1)
	if creates != total-1 {
		t.Errorf("created %d records, want %d", creates, total-1)
	}
	job, err := s.GetJob(ctx, "job-big")
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if job.Processed != total-1 || job.FinishedAt != nil || job.Status() != store.StatusRunning {
		t.Errorf("before the last result: processed %d finished %v, want %d, nil", job.Processed, job.FinishedAt, total-1)
	}
	last := total - 1
	mustPut(t, s, record("job-big", last, verdictOf(last), base))
	mustPut(t, s, record("job-big", last, verdictOf(last), base))
	job, err = s.GetJob(ctx, "job-big")
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	stored, err := s.ListResults(ctx, "job-big", 0, 2*total)
	if err != nil {
		t.Fatalf("ListResults: %v", err)
	}
	var want store.Summary
	for i, r := range stored {
		want.Add(r.IsReachable)
		if r.Index != i || (r.IsReachable != verdictOf(i) && (i%4 != 1 || r.IsReachable != store.Unknown)) {
			t.Fatalf("stored record %d = index %d %s, want index %d %s", i, r.Index, r.IsReachable, i, verdictOf(i))
		}
	}
	if len(stored) != total || job.Processed != total || job.Summary != want || job.FinishedAt == nil ||
		job.Status() != store.StatusCompleted {
		t.Errorf("GetJob = processed %d summary %+v finished %v, want %d %+v non-nil (%d stored)",
			job.Processed, job.Summary, job.FinishedAt, total, want, len(stored))
	}
}

// putAll writes indices [0, n) of job-big from 8 goroutines, redelivering
// every index ≡ 1 (mod 4) with verdict unknown; it returns how many
// PutResult calls reported created.
func putAll(t *testing.T, s Store, n int) int {
	const workers = 8
	jobs := make(chan store.Record)
	var wg sync.WaitGroup
	var mu sync.Mutex
	creates := 0
	for range workers {
		wg.Go(func() {
			for r := range jobs {
				_, created, err := s.PutResult(context.Background(), r)
				if err != nil {
					t.Errorf("PutResult(%d): %v", r.Index, err)
					continue
				}
				if created {
					mu.Lock()
					creates++
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		jobs <- record("job-big", i, verdictOf(i), base.Add(time.Duration(i)*time.Microsecond))
		if i%4 == 1 {
			jobs <- record("job-big", i, store.Unknown, base.Add(time.Hour)) // redelivery
		}
	}
	close(jobs)
	wg.Wait()
	return creates
}

func testListResults(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateJob(t, s, "job-l", 30)
	var want []int
	// Written out of order, with a gap at 7 and 20-29 still missing.
	for _, i := range []int{19, 3, 0, 11, 5, 18, 1, 2, 4, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17} {
		mustPut(t, s, record("job-l", i, verdictOf(i), base))
	}
	for i := range 20 {
		if i != 7 {
			want = append(want, i)
		}
	}
	mustPut(t, s, record("job-other", 7, store.Safe, base)) // another job's row never shows
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
