package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
)

func TestBulkResults(t *testing.T) {
	hs := newHarness(t, nil)
	ctx := context.Background()
	if err := hs.store.CreateJob(ctx, storeJob("9", 4)); err != nil {
		t.Fatal(err)
	}
	results := []engine.Result{
		testResult("a@x.test", engine.Safe),
		testResult("b@x.test", engine.Invalid),
		testResult("not an address", engine.Invalid),
	}
	gravatar := "https://gravatar.com/avatar/abc"
	results[0].Misc.Value.GravatarURL = &gravatar
	results[1].SMTP = engine.Failed[engine.SMTP](&engine.StepError{Type: "Timeout", Message: "smtp timed out, after 45s"})
	results[1].IsReachable = engine.Unknown
	for i, r := range results {
		hs.storeResult(t, "9", i, r)
	}

	t.Run("json while running", func(t *testing.T) {
		r := hs.do(t, "GET", "/v1/bulk/9/results", "", nil)
		var got struct {
			Results   []json.RawMessage `json:"results"`
			JobStatus string            `json:"job_status"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if got.JobStatus != "Running" || len(got.Results) != 3 {
			t.Fatalf("got %s", r.body)
		}
		for i, raw := range got.Results {
			want, _ := json.Marshal(results[i])
			if string(raw) != string(want) {
				t.Errorf("result %d\n got %s\nwant %s", i, raw, want)
			}
		}
	})
	t.Run("paging", func(t *testing.T) {
		r := hs.do(t, "GET", "/v1/bulk/9/results?format=json&limit=1&offset=1", "", nil)
		var got struct{ Results []engine.Result }
		if err := json.Unmarshal(r.body, &got); err != nil || len(got.Results) != 1 || got.Results[0].Input != "b@x.test" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("csv", func(t *testing.T) {
		r := hs.do(t, "GET", "/v1/bulk/9/results?format=csv", "", nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || r.header.Get("X-Job-Status") != "Running" {
			t.Fatalf("%d %v", r.status, r.header)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, r.body)
		}
		want := [][]string{
			{"input", "is_reachable", "misc.is_disposable", "misc.is_role_account", "misc.gravatar_url", "mx.accepts_mail",
				"smtp.can_connect", "smtp.has_full_inbox", "smtp.is_catch_all", "smtp.is_deliverable", "smtp.is_disabled",
				"syntax.is_valid_syntax", "syntax.domain", "syntax.username", "error"},
			{"a@x.test", "safe", "false", "false", gravatar, "true", "true", "false", "false", "true", "false", "true", "x.test", "a", ""},
			{"b@x.test", "unknown", "false", "false", "", "true", "false", "false", "false", "false", "false", "true", "x.test", "b", "Timeout: smtp timed out, after 45s"},
			{"not an address", "invalid", "false", "false", "", "false", "false", "false", "false", "false", "false", "false", "", "", ""},
		}
		if fmt.Sprint(rows) != fmt.Sprint(want) {
			t.Errorf("csv rows\n got %q\nwant %q", rows, want)
		}
	})
	t.Run("completed", func(t *testing.T) {
		hs.storeResult(t, "9", 3, testResult("d@x.test", engine.Safe))
		r := hs.do(t, "GET", "/v1/bulk/9/results?format=csv&offset=3", "", nil)
		rows, _ := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if r.header.Get("X-Job-Status") != "Completed" || len(rows) != 2 || rows[1][0] != "d@x.test" {
			t.Errorf("%v %q", r.header, rows)
		}
		if m := hs.do(t, "GET", "/v1/bulk/9/results", "", nil).json(t); m["job_status"] != "Completed" {
			t.Errorf("json job_status %v", m["job_status"])
		}
	})
	bad := []struct{ query, wantErr string }{
		{"format=xml", "format must be json or csv."},
		{"limit=0", "limit must be an integer between 1 and 1000."},
		{"limit=1001", "limit must be an integer between 1 and 1000."},
		{"limit=ten", "limit must be an integer between 1 and 1000."},
		{"offset=-1", "offset must be an integer between 0 and 2147483647."},
	}
	for _, tt := range bad {
		t.Run(tt.query, func(t *testing.T) {
			r := hs.do(t, "GET", "/v1/bulk/9/results?"+tt.query, "", nil)
			if r.status != 400 || r.errorText(t) != tt.wantErr {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	t.Run("unknown job", func(t *testing.T) {
		if r := hs.do(t, "GET", "/v1/bulk/10/results", "", nil); r.status != 404 {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
}

// TestBulkResultsPaging checks X-Total-Count and Link rel="next" on JSON
// and CSV pages, so that a client exporting a job larger than one page
// knows it got only part of it.
func TestBulkResultsPaging(t *testing.T) {
	hs := newHarness(t, nil)
	if err := hs.store.CreateJob(context.Background(), storeJob("12", 5)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // 3 of 5 results stored: the job is running
		hs.storeResult(t, "12", i, testResult(fmt.Sprintf("u%d@x.test", i), engine.Safe))
	}
	tests := []struct{ query, wantLink string }{
		{"format=csv&limit=2", `</v1/bulk/12/results?format=csv&limit=2&offset=2>; rel="next"`},
		{"format=csv&limit=2&offset=2", ""},
		{"format=csv", ""},
		{"format=json&limit=1&offset=1", `</v1/bulk/12/results?format=json&limit=1&offset=2>; rel="next"`},
		{"limit=1", `</v1/bulk/12/results?format=json&limit=1&offset=1>; rel="next"`},
		{"", ""},
		{"format=json&offset=9", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := hs.do(t, "GET", "/v1/bulk/12/results?"+tt.query, "", nil)
			if r.status != 200 {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if got := r.header.Get("X-Total-Count"); got != "5" {
				t.Errorf("X-Total-Count %q, want 5", got)
			}
			if got := r.header.Get("Link"); got != tt.wantLink {
				t.Errorf("Link %q, want %q", got, tt.wantLink)
			}
		})
	}
	// Both headers are documented for the 200 answer.
	for _, name := range []string{"X-Total-Count", "Link"} {
		if _, ok := hs.spec.lookup("/paths/" + escapePointer("/v1/bulk/{job_id}/results") + "/get/responses/200/headers/" + name); !ok {
			t.Errorf("openapi.json does not document %s", name)
		}
	}
}

// TestBulkResultsWithoutJob: results stored under a job id that has no job
// record (a Reacher bulk task, an external producer) are listed all the
// same, as docs/message-schema.md promises: always Running, no
// X-Total-Count, Link while results remain; 404 only when nothing is
// stored.
func TestBulkResultsWithoutJob(t *testing.T) {
	hs := newHarness(t, nil)
	id := queue.ReacherJobID(42)
	for _, e := range []string{"a@x.test", "b@x.test", "c@y.test"} {
		hs.storeResult(t, id, queue.ReacherIndex(e), testResult(e, engine.Safe))
	}
	base := "/v1/bulk/" + id + "/results"
	tests := []struct {
		name, target string
		status       int
		wantN        int    // results in the page
		wantLink     string // "" for none
	}{
		{"every result", base, 200, 3, ""},
		{"first page", base + "?limit=2", 200, 2, `<` + base + `?format=json&limit=2&offset=2>; rel="next"`},
		{"last page", base + "?limit=2&offset=2", 200, 1, ""},
		{"page of exactly the rest", base + "?limit=3", 200, 3, ""},
		{"past the end", base + "?offset=9", 200, 0, ""},
		{"csv", base + "?format=csv&limit=1", 200, 1, `<` + base + `?format=csv&limit=1&offset=1>; rel="next"`},
		{"nothing stored", "/v1/bulk/" + queue.ReacherJobID(43) + "/results", 404, 0, ""},
		{"nothing stored, offset", "/v1/bulk/" + queue.ReacherJobID(43) + "/results?offset=5", 404, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.do(t, "GET", tt.target, "", nil)
			if r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if r.errorText(t) != "Job not found." {
					t.Errorf("error %q", r.errorText(t))
				}
				return
			}
			var n int
			var status string
			if strings.Contains(tt.target, "format=csv") {
				rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
				if err != nil {
					t.Fatalf("csv: %v", err)
				}
				n, status = len(rows)-1, r.header.Get("X-Job-Status")
			} else {
				var got struct {
					Results   []json.RawMessage `json:"results"`
					JobStatus string            `json:"job_status"`
				}
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatal(err)
				}
				n, status = len(got.Results), got.JobStatus
			}
			if n != tt.wantN || status != store.StatusRunning {
				t.Errorf("%d results, job_status %q; want %d, Running", n, status, tt.wantN)
			}
			if got := r.header.Get("Link"); got != tt.wantLink {
				t.Errorf("Link %q, want %q", got, tt.wantLink)
			}
			if got, ok := r.header["X-Total-Count"]; ok {
				t.Errorf("X-Total-Count %q without a job record", got)
			}
		})
	}
	// The job status route still needs the job record.
	if r := hs.do(t, "GET", "/v1/bulk/"+id, "", nil); r.status != 404 {
		t.Errorf("GET /v1/bulk/%s: %d %s, want 404", id, r.status, r.body)
	}
}
