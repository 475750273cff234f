package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// emfFields are the members of an EMF line the tests read.
type emfFields struct {
	AWS struct {
		Timestamp int64 `json:"Timestamp"`
	} `json:"_aws"`
	Backend       string  `json:"backend"`
	Result        string  `json:"result"`
	Verifications int     `json:"reacher_verifications_total"`
	Duration      float64 `json:"reacher_verification_duration_seconds"`
	Errors        int     `json:"reacher_errors_total"`
}

func parseEMF(t *testing.T, text string) []emfFields {
	t.Helper()
	var lines []emfFields
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var f emfFields
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("EMF line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, f)
	}
	return lines
}

// TestEMFObserverConcurrent writes from many goroutines to a
// bytes.Buffer, which is not safe for concurrent use by itself: the race
// detector and the line count show that the observer serializes writes.
func TestEMFObserverConcurrent(t *testing.T) {
	var buf bytes.Buffer
	o := NewEMFObserver(&buf, nil)
	at := time.Date(2025, 7, 26, 16, 14, 4, 0, time.UTC)
	o.now = func() time.Time { return at }
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				o.Observe(result("api", verdicts[(g+i)%len(verdicts)], i%10 == 0), 1500*time.Millisecond)
			}
		})
	}
	wg.Wait()
	lines := parseEMF(t, buf.String())
	if len(lines) != 800 {
		t.Fatalf("%d EMF lines, want 800", len(lines))
	}
	errs := 0
	for _, l := range lines {
		errs += l.Errors
		if l.Backend != "api" || l.Verifications != 1 || l.Duration != 1.5 || l.AWS.Timestamp != at.UnixMilli() {
			t.Fatalf("line %+v, want backend api, one verification of 1.5 s at %d", l, at.UnixMilli())
		}
	}
	if errs != 80 {
		t.Errorf("%d errors counted, want 80", errs)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestEMFObserverWriteFailureIsLogged(t *testing.T) {
	var logs bytes.Buffer
	o := NewEMFObserver(failingWriter{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	o.Observe(result("api", engine.Safe, false), time.Second)
	if !strings.Contains(logs.String(), "EMF line not written") || !strings.Contains(logs.String(), "stdout closed") {
		t.Errorf("write failure not logged: %s", logs.String())
	}
	NewEMFObserver(failingWriter{}, nil).Observe(result("api", engine.Safe, false), time.Second) // no logger: no panic
}

func TestCompletionLog(t *testing.T) {
	const addr = "Someone@Example.com"
	tests := []struct {
		name        string
		logEmails   bool
		backend     string // the result's
		verdict     engine.Reachability
		wantEmail   string // "" when the address must not appear
		wantBackend string
		wantResult  string
	}{
		{"hashed by default", false, "eu-1", engine.Safe, "", "eu-1", "safe"},
		{"address with log_emails", true, "eu-1", engine.Invalid, addr, "eu-1", "invalid"},
		{"configured backend when the result names none", false, "", engine.Risky, "", "cfg-backend", "risky"},
		{"no verdict is unknown", false, "eu-1", "", "", "eu-1", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			c := CompletionLog{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), LogEmails: tt.logEmails, BackendName: "cfg-backend"}
			res := result(tt.backend, tt.verdict, false)
			res.Input = addr
			c.Observe(res, 2345*time.Millisecond)
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", logs.String(), err)
			}
			want := map[string]any{"msg": "Verification completed", "result": tt.wantResult,
				"duration_ms": 2345.0, "backend": tt.wantBackend}
			if tt.wantEmail != "" {
				want["email"] = tt.wantEmail
			} else {
				want["email_hash"] = HashEmail(addr)
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v (line %s)", k, line[k], v, logs.String())
				}
			}
			if tt.wantEmail == "" && strings.Contains(strings.ToLower(logs.String()), "someone@") {
				t.Errorf("the address was logged without log_emails: %s", logs.String())
			}
		})
	}
	CompletionLog{}.Observe(result("b", engine.Safe, false), time.Second) // no logger: nothing
}

func TestObserversFanOut(t *testing.T) {
	var emf, logs bytes.Buffer
	reg := New()
	obs := Observers{reg, NewEMFObserver(&emf, nil), CompletionLog{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}}
	obs.Observe(result("b", engine.Safe, false), time.Second)
	obs.Observe(result("b", engine.Unknown, true), time.Second)
	if got := scrape(t, reg); !strings.Contains(got, `reacher_verifications_total{backend="b"} 2`) {
		t.Errorf("registry not counted:\n%s", got)
	}
	if n := len(parseEMF(t, emf.String())); n != 2 {
		t.Errorf("%d EMF lines, want 2", n)
	}
	if n := strings.Count(logs.String(), "Verification completed"); n != 2 {
		t.Errorf("%d log lines, want 2", n)
	}
}

func TestHashEmail(t *testing.T) {
	a, b := HashEmail("Someone@Example.com "), HashEmail("someone@example.com")
	if a != b || len(a) != 16 {
		t.Errorf("HashEmail = %q and %q, want equal 16-digit hashes", a, b)
	}
	if HashEmail("other@example.com") == a {
		t.Error("different addresses hash alike")
	}
}

func BenchmarkEMFObserver(b *testing.B) {
	var buf bytes.Buffer
	o := NewEMFObserver(&buf, nil)
	res := result("b", engine.Safe, false)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		o.Observe(res, time.Second)
	}
}
