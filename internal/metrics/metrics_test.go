package metrics

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func result(backend string, verdict engine.Reachability, failed bool) engine.Result {
	r := engine.Result{IsReachable: verdict}
	r.Debug.BackendName = backend
	if failed {
		r.SMTP = engine.Failed[engine.SMTP](&engine.StepError{Type: engine.ErrTypeTimeout, Message: "timed out"})
	}
	return r
}

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if got := rec.Header().Get("Content-Type"); got != ContentType {
		t.Errorf("Content-Type = %q, want %q", got, ContentType)
	}
	return rec.Body.String()
}

func TestPrometheusText(t *testing.T) {
	r := New()
	r.Observe(result("eu-1", engine.Safe, false), 1*time.Second)
	r.Observe(result("eu-1", engine.Invalid, false), 2*time.Second)
	r.Observe(result("us-1", engine.Unknown, true), 4*time.Second)
	r.Observe(result("eu-1", engine.Safe, false), 500*time.Millisecond)
	r.IncErrors()
	want := `# HELP reacher_verifications_total Verifications completed, by backend.
# TYPE reacher_verifications_total counter
reacher_verifications_total{backend="eu-1"} 3
reacher_verifications_total{backend="us-1"} 1
# HELP reacher_verifications_by_result Verifications completed, by verdict (is_reachable).
# TYPE reacher_verifications_by_result counter
reacher_verifications_by_result{result="safe"} 2
reacher_verifications_by_result{result="risky"} 0
reacher_verifications_by_result{result="invalid"} 1
reacher_verifications_by_result{result="unknown"} 1
# HELP reacher_errors_total Verifications that ended with an error object, and processing failures.
# TYPE reacher_errors_total counter
reacher_errors_total 2
# HELP reacher_verification_duration_seconds Duration of verifications in seconds, over a sliding window of recent ones.
# TYPE reacher_verification_duration_seconds summary
reacher_verification_duration_seconds{quantile="0.5"} 1
reacher_verification_duration_seconds{quantile="0.95"} 4
reacher_verification_duration_seconds_sum 7.5
reacher_verification_duration_seconds_count 4
`
	if got := scrape(t, r); got != want {
		t.Errorf("exposition\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestPrometheusEmpty(t *testing.T) {
	got := scrape(t, New())
	for _, line := range []string{
		`reacher_verification_duration_seconds{quantile="0.5"} NaN`,
		`reacher_verification_duration_seconds_count 0`,
		`reacher_verifications_by_result{result="unknown"} 0`,
		`reacher_errors_total 0`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing line %q in:\n%s", line, got)
		}
	}
}

func TestLabelEscaping(t *testing.T) {
	r := New()
	r.Observe(result("a\"b\\c\nd", engine.Safe, false), time.Second)
	want := `reacher_verifications_total{backend="a\"b\\c\nd"} 1` + "\n"
	if got := scrape(t, r); !strings.Contains(got, want) {
		t.Errorf("escaped label %q not in:\n%s", want, got)
	}
}

func TestQuantile(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		q      float64
		want   float64
	}{
		{"empty", nil, 0.5, math.NaN()},
		{"one", []float64{3}, 0.95, 3},
		{"median of four", []float64{1, 2, 3, 4}, 0.5, 2},
		{"p95 of 100", seq(100), 0.95, 95},
		{"p50 of 100", seq(100), 0.5, 50},
		{"p95 of 20", seq(20), 0.95, 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := quantile(tt.values, tt.q)
			if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func seq(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(i + 1)
	}
	return s
}

// TestWindowSlides checks that old durations leave the quantiles while the
// sum and count keep the whole history.
func TestWindowSlides(t *testing.T) {
	r := New()
	for range windowSize {
		r.Observe(result("b", engine.Safe, false), 10*time.Second)
	}
	for range windowSize {
		r.Observe(result("b", engine.Safe, false), time.Second)
	}
	s := r.snapshot()
	if s.quantiles[1] != 1 {
		t.Errorf("p95 = %v after the window filled with 1s, want 1", s.quantiles[1])
	}
	if s.count != 2*windowSize || s.sum != 11*windowSize {
		t.Errorf("count, sum = %d, %v; want %d, %d", s.count, s.sum, 2*windowSize, 11*windowSize)
	}
}

func TestConcurrentUse(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				r.Observe(result("b", verdicts[(g+i)%len(verdicts)], i%10 == 0), time.Duration(i)*time.Millisecond)
				if i%100 == 0 {
					scrape(t, r)
				}
			}
		})
	}
	wg.Wait()
	if got := scrape(t, r); !strings.Contains(got, `reacher_verifications_total{backend="b"} 4000`) {
		t.Errorf("total not 4000:\n%s", got)
	}
}

func TestEMFGolden(t *testing.T) {
	now := time.Date(2025, 7, 26, 16, 14, 4, 614_000_000, time.UTC)
	tests := []struct {
		name string
		res  engine.Result
		d    time.Duration
	}{
		{"safe", result("backend-dev", engine.Safe, false), 6859 * time.Millisecond},
		{"timeout", result("backend-dev", engine.Unknown, true), 45 * time.Second},
		{"no backend name", result("", engine.Invalid, false), 120 * time.Millisecond},
	}
	var buf bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := buf.Len()
			if err := EMF(&buf, now, tt.res, tt.d); err != nil {
				t.Fatalf("EMF: %v", err)
			}
			line := buf.Bytes()[before:]
			if n := bytes.Count(line, []byte("\n")); n != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("EMF wrote %d newlines, want exactly one at the end: %q", n, line)
			}
			var v struct {
				AWS struct {
					CloudWatchMetrics []struct{ Metrics []struct{ Name string } }
				} `json:"_aws"`
			}
			if err := json.Unmarshal(line, &v); err != nil {
				t.Fatalf("line is not JSON: %v", err)
			}
			if got := len(v.AWS.CloudWatchMetrics[0].Metrics); got != 4 {
				t.Errorf("%d metrics declared, want 4", got)
			}
		})
	}
	golden := filepath.Join("testdata", "emf.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("EMF lines differ from %s\n got:\n%s\nwant:\n%s", golden, buf.Bytes(), want)
	}
}

func BenchmarkObserve(b *testing.B) {
	r := New()
	res := result("b", engine.Safe, false)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Observe(res, time.Duration(i))
	}
}

func BenchmarkEMF(b *testing.B) {
	res := result("b", engine.Safe, false)
	now := time.Now()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := EMF(&buf, now, res, time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
