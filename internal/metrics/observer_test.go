package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
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
	o := NewEMFObserver(&buf, "api", nil)
	at := time.Date(2025, 7, 26, 16, 14, 4, 0, time.UTC)
	o.now = func() time.Time { return at }
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				o.Observe(result("api", Verdicts[(g+i)%len(Verdicts)], i%10 == 0), 1500*time.Millisecond)
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
	o := NewEMFObserver(failingWriter{}, "api", slog.New(slog.NewJSONHandler(&logs, nil)))
	o.Observe(result("api", engine.Safe, false), time.Second)
	if !strings.Contains(logs.String(), "EMF line not written") || !strings.Contains(logs.String(), "stdout closed") {
		t.Errorf("write failure not logged: %s", logs.String())
	}
	NewEMFObserver(failingWriter{}, "", nil).Observe(result("api", engine.Safe, false), time.Second) // no logger: no panic
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
	obs := Observers{NewEMFObserver(&emf, "b", nil), CompletionLog{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}}
	obs.Observe(result("b", engine.Safe, false), time.Second)
	obs.Observe(result("b", engine.Unknown, true), time.Second)
	if n := len(parseEMF(t, emf.String())); n != 2 {
		t.Errorf("%d EMF lines, want 2", n)
	}
	if n := strings.Count(logs.String(), "Verification completed"); n != 2 {
		t.Errorf("%d log lines, want 2", n)
	}
}

// TestEMFObserverEvents checks the lines of the events: a proxy failure
// only when the proxy was at fault, every politeness wait, every error,
// each with the observer's backend.
func TestEMFObserverEvents(t *testing.T) {
	var buf bytes.Buffer
	o := NewEMFObserver(&buf, "eu-1", nil)
	p := dialer.Proxy{ID: "pool-0", Host: "127.0.0.1", Port: 1080}
	o.ProxyFailed(p, &dialer.ProxyError{Kind: dialer.ProxyUnreachable, Stage: dialer.StageDial})
	o.ProxyFailed(p, &dialer.ProxyError{Kind: dialer.TargetRefused, Stage: dialer.StageConnect, Reply: 5})
	o.PolitenessWaited("mx.example.com.", 0)
	o.PolitenessWaited("mx.example.com.", 2*time.Second)
	o.IncErrors()
	var got []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "_aws")
		got = append(got, m)
	}
	want := []map[string]any{
		{"backend": "eu-1", "proxy": "pool-0", "kind": "unreachable", NameProxyFailures: 1.0},
		{"backend": "eu-1", "mx": "mx.example.com.", NamePolitenessWait: 0.0},
		{"backend": "eu-1", "mx": "mx.example.com.", NamePolitenessWait: 2.0},
		{"backend": "eu-1", NameErrors: 1.0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines\n got %v\nwant %v", got, want)
	}
	checkEMFLines(t, buf.Bytes())
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
	o := NewEMFObserver(&buf, "api", nil)
	res := result("b", engine.Safe, false)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		o.Observe(res, time.Second)
	}
}
