package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

var errBackend = errors.New("dynamodb: table mailprobe-prod-Table-1ABC unavailable")

// brokenCache fails every call.
type brokenCache struct{}

func (brokenCache) GetCache(context.Context, string, time.Time) (json.RawMessage, bool, error) {
	return nil, false, errBackend
}

func (brokenCache) PutCache(context.Context, string, json.RawMessage, time.Time) error {
	return errBackend
}

// brokenJobs fails every call.
type brokenJobs struct{}

func (brokenJobs) CreateJob(context.Context, store.Job) error { return errBackend }
func (brokenJobs) GetJob(context.Context, string) (store.Job, error) {
	return store.Job{}, errBackend
}
func (brokenJobs) ListResults(context.Context, string, int, int) ([]store.Record, error) {
	return nil, errBackend
}

func TestBrokenCacheDegradesToFreshChecks(t *testing.T) {
	hs := newHarness(t, func(_ *Config, d *Deps) { d.Cache = brokenCache{} })
	for range 2 {
		if r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@example.com"}`, nil); r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
	}
	if n := hs.checker.calls.Load(); n != 2 {
		t.Errorf("engine called %d times, want 2", n)
	}
}

func TestBrokenJobStoreIs500WithoutDetails(t *testing.T) {
	hs := newHarness(t, func(_ *Config, d *Deps) { d.Jobs = brokenJobs{} })
	tests := []struct{ method, target, body string }{
		{"POST", "/v1/bulk", `{"input":["a@b.c"]}`},
		{"GET", "/v1/bulk/1", ""},
		{"GET", "/v1/bulk/1/results", ""},
		{"GET", "/v1/check_email/1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			r := hs.do(t, tt.method, tt.target, tt.body, nil)
			if r.status != 500 || strings.Contains(string(r.body), "dynamodb") ||
				r.errorText(t) != "Internal server error (request id "+r.header.Get("X-Request-Id")+")." {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	errs := 0
	for _, l := range hs.logs.lines(t) {
		if l["level"] == "ERROR" && strings.Contains(l["error"].(string), "dynamodb") {
			errs++
		}
	}
	if errs != len(tests) {
		t.Errorf("%d internal errors logged, want %d", errs, len(tests))
	}
}

func TestCorruptStoredResultIs500(t *testing.T) {
	hs := newHarness(t, nil)
	ctx := context.Background()
	if err := hs.store.CreateJob(ctx, storeJob("3", 1)); err != nil {
		t.Fatal(err)
	}
	_, _, err := hs.store.PutResult(ctx, store.Record{JobID: "3", Index: 0, Input: "a@b.c", IsReachable: "safe",
		Result: json.RawMessage(`{"input":"a@b.c","misc":[]}`), CreatedAt: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if r := hs.do(t, "GET", "/v1/bulk/3/results?format=csv", "", nil); r.status != 500 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}
