package app_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/testenv/mailfleet"
	"github.com/mailprobe/mailprobe/internal/testenv/servetest"
)

// fleetServe starts `mailprobe serve` (embedded queue and store) for the
// fleet, with the default retry policy and the waits given.
func fleetServe(tb testing.TB, f *mailfleet.Fleet, smtpTimeout, greylistWait time.Duration) string {
	tb.Helper()
	cfg, err := config.Load(config.Options{Environ: []string{
		"RCH__HEADER_SECRET=" + secret, "MAILPROBE_PROXIES=" + f.Proxy.URL(),
		fmt.Sprintf("RCH__SMTP_PORT=%d", f.Port),
	}})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DNS, cfg.AllowPrivateMX, cfg.Storage.DataDir = []string{f.DNS.Addr}, true, tb.TempDir()
	cfg.SMTPTimeout, cfg.GreylistWait = smtpTimeout, greylistWait
	base, _ := servetest.Start(tb, cfg, nil)
	return base
}

// bulkStatus is GET /v1/bulk/{id}, mailprobe's fields included.
type bulkStatus struct {
	Status      string     `json:"job_status"`
	Processed   int        `json:"total_processed"`
	Waiting     int        `json:"waiting_for_retry"`
	NextRetryAt *time.Time `json:"next_retry_at"`
}

// fetch calls the API and decodes its 200 answer into out.
func fetch(tb testing.TB, method, url, body string, out any) {
	tb.Helper()
	code, b := call(tb, method, url, body)
	if code != 200 {
		tb.Fatalf("%s %s: %d %s", method, url, code, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		tb.Fatalf("%s %s: %v: %s", method, url, err, b)
	}
}

// runBulk posts emails as a bulk job, polls its status until it is
// Completed, and returns the most addresses seen waiting for a retry.
func runBulk(tb testing.TB, base string, emails []string, limit time.Duration) (id string, mostWaiting int) {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"input": emails})
	var created struct {
		JobID json.Number `json:"job_id"`
	}
	fetch(tb, "POST", base+"/v1/bulk", string(body), &created)
	id = created.JobID.String()
	deadline := time.Now().Add(limit)
	for {
		var s bulkStatus
		fetch(tb, "GET", base+"/v1/bulk/"+id, "", &s)
		mostWaiting = max(mostWaiting, s.Waiting)
		if s.Waiting > 0 && s.NextRetryAt == nil {
			tb.Errorf("%d waiting for a retry, but no next_retry_at", s.Waiting)
		}
		if s.Status == "Completed" {
			if s.Waiting != 0 || s.Processed != len(emails) {
				tb.Errorf("completed with %d processed, %d waiting; want %d, 0", s.Processed, s.Waiting, len(emails))
			}
			return id, mostWaiting
		}
		if time.Now().After(deadline) {
			tb.Fatalf("job %s not completed after %v: %+v", id, limit, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeBulkRetries runs the benchmark's list (tarpit, hang-up after
// EHLO, greylisting, nine ordinary domains) as a bulk job of `mailprobe
// serve` with short waits and the default retry policy: the job completes
// with every address exactly once, in input order, each with its verdict;
// the unreachable addresses show as waiting for a retry in between; and
// every server sees one session per attempt.
func TestServeBulkRetries(t *testing.T) {
	f := mailfleet.Start(t, mailfleet.Bench())
	base := fleetServe(t, f, 300*time.Millisecond, 50*time.Millisecond)
	id, waiting := runBulk(t, base, f.Emails, time.Minute)
	if waiting == 0 {
		t.Error("no address was ever shown waiting for a retry")
	}
	var page struct {
		Results []struct {
			Input       string `json:"input"`
			IsReachable string `json:"is_reachable"`
		} `json:"results"`
	}
	fetch(t, "GET", base+"/v1/bulk/"+id+"/results?limit=100", "", &page)
	if len(page.Results) != len(f.Emails) {
		t.Fatalf("%d results for %d addresses", len(page.Results), len(f.Emails))
	}
	for i, r := range page.Results {
		if r.Input != f.Emails[i] || r.IsReachable != mailfleet.Verdict(r.Input) {
			t.Errorf("result %d: %s %s, want %s %s", i, r.Input, r.IsReachable, f.Emails[i], mailfleet.Verdict(f.Emails[i]))
		}
	}
	for d, s := range f.Servers {
		if got, want := s.Sessions(), mailfleet.Attempts(d); got != want {
			t.Errorf("%s: %d sessions, want %d", d, got, want)
		}
	}
}

// BenchmarkServeRetryJob is the second figure: the benchmark's list
// as a bulk job of `mailprobe serve` with a 5 s SMTP timeout,
// --greylist-wait 3s and the default retry policy, from POST /v1/bulk to
// Completed. The tarpit and the server that hangs up are retried once at
// once (through the queue, 1 s later), so the job takes about two SMTP
// timeouts.
//
//	go test ./internal/app -run '^$' -bench ServeRetryJob -benchtime 3x
func BenchmarkServeRetryJob(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		f := mailfleet.Start(b, mailfleet.Bench())
		base := fleetServe(b, f, 5*time.Second, 3*time.Second)
		b.StartTimer()
		runBulk(b, base, f.Emails, 3*time.Minute)
		b.StopTimer()
		b.ReportMetric(float64(f.Sessions()), "sessions/op")
		b.StartTimer()
	}
}
