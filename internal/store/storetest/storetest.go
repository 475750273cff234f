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
	PutResult(ctx context.Context, rec store.Record) (stored store.Record, created bool, err error)
	GetResult(ctx context.Context, jobID string, index int) (store.Record, error)
	Recount(ctx context.Context, rec store.Record) error
	ListResults(ctx context.Context, jobID string, offset, limit int) ([]store.Record, error)
	ResultsByVerdict(ctx context.Context, jobID, verdict string, since time.Time, limit int) ([]store.Record, error)
	LatestByAddress(ctx context.Context, normalized string) (store.Record, error)
	GetCache(ctx context.Context, key string, now time.Time) (json.RawMessage, bool, error)
	PutCache(ctx context.Context, key string, value json.RawMessage, expires time.Time) error
	Incr(ctx context.Context, key string, expires time.Time) (int64, error)
	IncrBy(ctx context.Context, key string, by int64, expires time.Time) (int64, error)
	SetWaiting(ctx context.Context, jobID string, waits []store.Wait) error
}

// Opener returns a new, empty store; it registers its own cleanup on t.
type Opener func(t *testing.T) Store

// Run runs the whole contract against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Jobs", testJobs},
		{"PutResultValidation", testPutResultValidation},
		{"PutResultConcurrentDuplicates", testConcurrentDuplicates},
		{"RedeliveryKeepsFirst", testRedeliveryKeepsFirst},
		{"GetResult", testGetResult},
		{"Recount", testRecount},
		{"CountersExact", testCountersExact},
		{"ListResultsPaging", testListResults},
		{"ResultsByVerdict", testResultsByVerdict},
		{"LatestByAddress", testLatestByAddress},
		{"CacheExpiry", testCache},
		{"IncrConcurrent", testIncrConcurrent},
		{"IncrExpiredRestarts", testIncrExpired},
		{"IncrBy", testIncrBy},
		{"WaitingForRetry", testWaiting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// RunExactness runs only the counting contract: it is meant for stores whose
// backend injects faults (throttling, 5xx) that retries must absorb.
func RunExactness(t *testing.T, open Opener) {
	t.Run("CountersExact", func(t *testing.T) { testCountersExact(t, open(t)) })
	t.Run("PutResultConcurrentDuplicates", func(t *testing.T) { testConcurrentDuplicates(t, open(t)) })
}

// base is a fixed, sub-second timestamp so round trips prove nanosecond precision.
var base = time.Date(2025, 7, 26, 16, 13, 57, 755749483, time.UTC)

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

func mustPut(t *testing.T, s Store, r store.Record) (store.Record, bool) {
	t.Helper()
	got, created, err := s.PutResult(context.Background(), r)
	if err != nil {
		t.Fatalf("PutResult(%s#%d): %v", r.JobID, r.Index, err)
	}
	return got, created
}

func indices(recs []store.Record) []int {
	out := make([]int, len(recs))
	for i, r := range recs {
		out[i] = r.Index
	}
	return out
}

func testGetResult(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.CreateJob(ctx, store.Job{ID: "get", Total: 2, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetResult(ctx, "get", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetResult before any write: %v, want ErrNotFound", err)
	}
	rec := store.Record{JobID: "get", Index: 1, Input: "a@b.test", Normalized: "a@b.test", IsReachable: store.Safe,
		Result: json.RawMessage(`{"input":"a@b.test"}`), CreatedAt: time.Now(), BackendName: "t", DurationMs: 3}
	if _, _, err := s.PutResult(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetResult(ctx, "get", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Input != rec.Input || got.IsReachable != rec.IsReachable || !bytes.Equal(got.Result, rec.Result) {
		t.Errorf("GetResult = %+v, want %+v", got, rec)
	}
	if _, err := s.GetResult(ctx, "no-such-job", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetResult of an unknown job: %v, want ErrNotFound", err)
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
