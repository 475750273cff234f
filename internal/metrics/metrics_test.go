package metrics

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
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

func TestProxyFailureKind(t *testing.T) {
	tests := []struct {
		err      dialer.ProxyError
		wantKind string
		wantOK   bool
	}{
		{dialer.ProxyError{Kind: dialer.ProxyUnreachable, Stage: dialer.StageDial}, "unreachable", true},
		{dialer.ProxyError{Kind: dialer.ProxyAuth, Stage: dialer.StageAuth, Reply: 1}, "auth", true},
		{dialer.ProxyError{Kind: dialer.ProxyProtocol, Stage: dialer.StageGreeting}, "protocol", true},
		{dialer.ProxyError{Kind: dialer.Timeout, Stage: dialer.StageGreeting}, "timeout", true},
		// The target's faults, reported through the proxy.
		{dialer.ProxyError{Kind: dialer.Timeout, Stage: dialer.StageConnect}, "", false},
		{dialer.ProxyError{Kind: dialer.TargetRefused, Stage: dialer.StageConnect, Reply: 5}, "", false},
		{dialer.ProxyError{Kind: dialer.TargetUnreachable, Stage: dialer.StageConnect, Reply: 4}, "", false},
		{dialer.ProxyError{Kind: dialer.Canceled, Stage: dialer.StageDial}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			kind, ok := ProxyFailureKind(&tt.err)
			if kind != tt.wantKind || ok != tt.wantOK {
				t.Errorf("ProxyFailureKind = %q, %v; want %q, %v", kind, ok, tt.wantKind, tt.wantOK)
			}
			if ok && !slices.Contains(ProxyFailureKinds[:], kind) {
				t.Errorf("kind %q missing from ProxyFailureKinds", kind)
			}
		})
	}
}

func TestDurationBucketsAscend(t *testing.T) {
	if !slices.IsSorted(DurationBuckets) || DurationBuckets[0] > 0.05 || DurationBuckets[len(DurationBuckets)-1] < 60 {
		t.Errorf("buckets %v: want ascending, from tens of milliseconds to a minute", DurationBuckets)
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
	events := []func() error{
		func() error { return emfError(&buf, now, "backend-dev") },
		func() error { return emfProxyFailure(&buf, now, "backend-dev", "pool-1", "unreachable") },
		func() error { return emfProxyFailure(&buf, now, "", "", "auth") },
		func() error {
			return emfPolitenessWait(&buf, now, "backend-dev", "mx.example.com.", 1500*time.Millisecond)
		},
	}
	for _, ev := range events {
		if err := ev(); err != nil {
			t.Fatal(err)
		}
	}
	checkEMFLines(t, buf.Bytes())
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

// checkEMFLines checks what CloudWatch requires of every line: the _aws
// metadata, each declared metric present as a number, each dimension
// present as a non-empty string, at most 30 dimensions per set.
func checkEMFLines(t *testing.T, text []byte) {
	t.Helper()
	for _, line := range bytes.Split(bytes.TrimSuffix(text, []byte("\n")), []byte("\n")) {
		var doc map[string]any
		if err := json.Unmarshal(line, &doc); err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		var meta struct {
			AWS emfMeta `json:"_aws"`
		}
		if err := json.Unmarshal(line, &meta); err != nil || meta.AWS.Timestamp == 0 {
			t.Fatalf("line %s: no _aws metadata (%v)", line, err)
		}
		for _, d := range meta.AWS.CloudWatchMetrics {
			if d.Namespace != Namespace {
				t.Errorf("namespace %q", d.Namespace)
			}
			for _, m := range d.Metrics {
				if _, ok := doc[m.Name].(float64); !ok {
					t.Errorf("line %s: metric %s has no numeric value", line, m.Name)
				}
			}
			for _, set := range d.Dimensions {
				for _, dim := range set {
					if v, ok := doc[dim].(string); !ok || v == "" {
						t.Errorf("line %s: dimension %s missing or empty", line, dim)
					}
				}
			}
		}
	}
}
