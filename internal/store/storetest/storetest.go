// Package storetest is the contract test suite every store implementation
// passes (internal/store/dynamo against dynalite, internal/store/bolt on a
// temporary file). An implementation's test calls Run with a function that
// opens an empty store.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

// Store is the behaviour under test: the union of what the API and the
// worker use.
type Store interface {
	CreateJob(ctx context.Context, j store.Job) error
	GetJob(ctx context.Context, id string) (store.Job, error)
	StoreResults(ctx context.Context, jobID, key string, recs []store.Record) (stored []store.Record, created bool, err error)
	Settle(ctx context.Context, o store.Outcome) (store.Outcome, bool, error)
	Outcome(ctx context.Context, jobID, key string) (store.Outcome, error)
	PutResult(ctx context.Context, rec store.Record) (stored store.Record, created bool, err error)
	ListResults(ctx context.Context, jobID string, offset, limit int) ([]store.Record, error)
	GetCache(ctx context.Context, key string, now time.Time) (json.RawMessage, bool, error)
	PutCache(ctx context.Context, key string, value json.RawMessage, expires time.Time) error
	Incr(ctx context.Context, key string, expires time.Time) (int64, error)
	IncrBy(ctx context.Context, key string, by int64, expires time.Time) (int64, error)
	Reserve(ctx context.Context, key string, cost time.Duration, now, expires time.Time) (time.Time, error)
	Unreserve(ctx context.Context, key string, end time.Time, back time.Duration) error
}

// Opener returns a new, empty store whose clock is now and whose retention
// is retention; it registers its own cleanup on t.
type Opener func(t *testing.T, now func() time.Time, retention time.Duration) Store

// Run runs the whole contract against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Jobs", testJobs},
		{"StoreResultsValidation", testStoreResultsValidation},
		{"StoreResultsFirstWins", testStoreResultsFirstWins},
		{"SettleFirstWins", testSettleFirstWins},
		{"ConcurrentDeliveries", testConcurrentDeliveries},
		{"CrashBetweenStoreAndSettle", testCrashBetweenStoreAndSettle},
		{"OverlappingMessages", testOverlappingMessages},
		{"Waiting", testWaiting},
		{"PutResult", testPutResult},
		{"CountersExact", testCountersExact},
		{"ListResultsPaging", testListResults},
		{"ListResultsWithoutJob", testListResultsWithoutJob},
		{"CacheExpiry", testCache},
		{"IncrConcurrent", testIncrConcurrent},
		{"IncrExpiredRestarts", testIncrExpired},
		{"IncrBy", testIncrBy},
		{"Reserve", testReserve},
		{"ReserveConcurrent", testReserveConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t, time.Now, 0)) })
	}
	t.Run("Retention", func(t *testing.T) { testRetention(t, open) })
}

// RunExactness runs only the counting contract: it is meant for stores whose
// backend injects faults (throttling, 5xx) that retries must absorb.
func RunExactness(t *testing.T, open Opener) {
	t.Run("CountersExact", func(t *testing.T) { testCountersExact(t, open(t, time.Now, 0)) })
	t.Run("ConcurrentDeliveries", func(t *testing.T) { testConcurrentDeliveries(t, open(t, time.Now, 0)) })
}

// base is a sub-second timestamp so round trips prove nanosecond
// precision; it is recent, so jobs created at base are within any
// store's retention.
var base = time.Now().UTC().Truncate(time.Second).Add(-time.Hour + 755749483)

func record(jobID string, i int, verdict string, at time.Time) store.Record {
	email := fmt.Sprintf("user%d@example.com", i)
	return store.Record{
		JobID:       jobID,
		Index:       i,
		Input:       email,
		Normalized:  email,
		IsReachable: verdict,
		Result:      json.RawMessage(fmt.Sprintf(`{"input":%q,"is_reachable":%q}`, email, verdict)),
		CreatedAt:   at,
		BackendName: "backend-test",
		DurationMs:  int64(100 + i),
	}
}

var verdicts = []string{store.Safe, store.Risky, store.Invalid, store.Unknown}

func verdictOf(i int) string { return verdicts[i%len(verdicts)] }

func sameRecord(a, b store.Record) bool {
	return a.JobID == b.JobID && a.Index == b.Index && a.Input == b.Input && a.Normalized == b.Normalized &&
		a.IsReachable == b.IsReachable && bytes.Equal(a.Result, b.Result) && a.CreatedAt.Equal(b.CreatedAt) &&
		a.BackendName == b.BackendName && a.DurationMs == b.DurationMs
}

func mustCreateJob(t *testing.T, s Store, id string, total int) {
	t.Helper()
	if err := s.CreateJob(context.Background(), store.Job{ID: id, Total: total, CreatedAt: base}); err != nil {
		t.Fatalf("CreateJob(%s): %v", id, err)
	}
}

// deliver does what a worker does with one delivery of a message: store
// the results it reached under the message's key, then settle the
// outcome with what is stored and the parts it hands back. It returns
// the outcome that stands and whether this delivery's results were
// stored.
func deliver(t *testing.T, s Store, jobID string, hop int, items []int, by string, recs []store.Record, parts []store.Part) (store.Outcome, bool) {
	t.Helper()
	ctx := context.Background()
	key := store.MessageKey(hop, items)
	stored, created, err := s.StoreResults(ctx, jobID, key, recs)
	if err != nil {
		t.Fatalf("StoreResults(%s): %v", key, err)
	}
	parts = without(parts, stored) // another delivery's results may stand instead of ours
	o, _, err := s.Settle(ctx, store.Settled(jobID, key, hop, by, stored, parts))
	if err != nil {
		t.Fatalf("Settle(%s): %v", key, err)
	}
	return o, created
}

// without removes the indices of recs from parts.
func without(parts []store.Part, recs []store.Record) []store.Part {
	done := make(map[int]bool)
	for _, r := range recs {
		done[r.Index] = true
	}
	var out []store.Part
	for _, p := range parts {
		q := p
		q.Indices = nil
		for _, i := range p.Indices {
			if !done[i] {
				q.Indices = append(q.Indices, i)
			}
		}
		if len(q.Indices) > 0 {
			out = append(out, q)
		}
	}
	return out
}

func indices(recs []store.Record) []int {
	out := make([]int, len(recs))
	for i, r := range recs {
		out[i] = r.Index
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func records(jobID string, idx []int, at time.Time) []store.Record {
	out := make([]store.Record, len(idx))
	for k, i := range idx {
		out[k] = record(jobID, i, verdictOf(i), at)
	}
	return out
}

func mustJob(t *testing.T, s Store, id string) store.Job {
	t.Helper()
	j, err := s.GetJob(context.Background(), id)
	if err != nil {
		t.Fatalf("GetJob(%s): %v", id, err)
	}
	return j
}

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
	got := mustJob(t, s, "job-a")
	if got.ID != want.ID || got.Total != 3 || !got.CreatedAt.Equal(base) || string(got.Webhook) != string(webhook) {
		t.Errorf("GetJob = %+v, want %+v", got, want)
	}
	if got.Processed != 0 || got.Summary != (store.Summary{}) || got.FinishedAt != nil || got.Status() != store.StatusRunning || got.Waiting != 0 || got.WaitingReasons != nil || got.NextRetryAt != nil {
		t.Errorf("GetJob of a new job = %+v, want nothing processed or waiting", got)
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
