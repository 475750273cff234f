package prom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/internal/metrics"
)

func result(backend string, verdict engine.Reachability, failed bool) engine.Result {
	r := engine.Result{IsReachable: verdict}
	r.Debug.BackendName = backend
	if failed {
		r.SMTP = engine.Failed[engine.SMTP](&engine.StepError{Type: engine.ErrTypeTimeout, Message: "timed out"})
	}
	return r
}

// scrape reads /metrics as Prometheus does and parses it.
func scrape(t *testing.T, h http.Handler) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q, want the text format 0.0.4", ct)
	}
	text := rec.Body.String()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return text, fams
}

type fixedQueue struct {
	s   metrics.QueueSample
	err error
}

func (f fixedQueue) SampleQueue(context.Context) (metrics.QueueSample, error) { return f.s, f.err }

// labelNames are the label names every series of each family must carry
// (le aside): the same set on every series, present from the first
// scrape.
var labelNames = map[string][]string{
	metrics.NameVerifications:         {"backend"},
	metrics.NameByResult:              {"result"},
	metrics.NameDuration:              {"backend"},
	metrics.NameErrors:                nil,
	metrics.NameProxyFailures:         {"kind", "proxy"},
	metrics.NamePolitenessWaits:       {"mx"},
	metrics.NamePolitenessWaitSeconds: {"mx"},
	metrics.NameRetriesWaiting:        nil,
	metrics.NameQueueMessages:         {"queue", "state"},
	metrics.NameQueueOldestAge:        {"queue"},
}

func TestExposition(t *testing.T) {
	r := New(Options{Backend: "eu-1", Proxies: []string{"default", "pool-0"}})
	if err := r.WatchQueue(fixedQueue{s: metrics.QueueSample{
		Work:           metrics.QueueState{Visible: 3, Delayed: 2, InFlight: 1, OldestAge: 90 * time.Second},
		DeadLetter:     metrics.QueueState{Visible: 4},
		RetriesWaiting: 7,
	}}); err != nil {
		t.Fatal(err)
	}
	r.Observe(result("eu-1", engine.Safe, false), 300*time.Millisecond)
	r.Observe(result("eu-1", engine.Invalid, false), 2*time.Second)
	r.Observe(result("", engine.Unknown, true), 45*time.Second)
	r.IncErrors()
	p := dialer.Proxy{ID: "pool-0"}
	r.ProxyFailed(p, &dialer.ProxyError{Kind: dialer.ProxyUnreachable, Stage: dialer.StageDial})
	r.ProxyFailed(p, &dialer.ProxyError{Kind: dialer.TargetRefused, Stage: dialer.StageConnect}) // the target's fault
	r.PolitenessWaited("mx.example.com.", 1500*time.Millisecond)
	r.PolitenessWaited("mx.example.com.", time.Millisecond) // no wait worth counting

	text, fams := scrape(t, r)
	for name, want := range labelNames {
		f := fams[name]
		if f == nil {
			t.Fatalf("%s missing from\n%s", name, text)
		}
		if f.GetHelp() == "" || !strings.Contains(text, "# TYPE "+name+" ") {
			t.Errorf("%s lacks HELP or TYPE", name)
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s series with labels %v, want %v", name, got, want)
			}
		}
	}
	for _, line := range []string{
		`reacher_verifications_total{backend="eu-1"} 3`,
		`reacher_verifications_by_result{result="risky"} 0`,
		`reacher_verifications_by_result{result="safe"} 1`,
		`reacher_errors_total 2`,
		`reacher_verification_duration_seconds_bucket{backend="eu-1",le="0.25"} 0`,
		`reacher_verification_duration_seconds_bucket{backend="eu-1",le="0.5"} 1`,
		`reacher_verification_duration_seconds_bucket{backend="eu-1",le="2.5"} 2`,
		`reacher_verification_duration_seconds_bucket{backend="eu-1",le="45"} 3`,
		`reacher_verification_duration_seconds_bucket{backend="eu-1",le="+Inf"} 3`,
		`reacher_verification_duration_seconds_count{backend="eu-1"} 3`,
		`reacher_proxy_failures_total{kind="unreachable",proxy="pool-0"} 1`,
		`reacher_proxy_failures_total{kind="auth",proxy="default"} 0`,
		`reacher_politeness_waits_total{mx="mx.example.com."} 1`,
		`reacher_politeness_wait_seconds_total{mx="mx.example.com."} 1.5`,
		`reacher_queue_messages{queue="work",state="delayed"} 2`,
		`reacher_queue_messages{queue="dead_letter",state="visible"} 4`,
		`reacher_queue_messages{queue="dead_letter",state="in_flight"} 0`,
		`reacher_queue_oldest_message_age_seconds{queue="work"} 90`,
		`reacher_retries_waiting 7`,
		`# TYPE reacher_verification_duration_seconds histogram`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("missing %q", line)
		}
	}
	if strings.Contains(text, metrics.NameDuration+"{quantile=") {
		t.Error("the duration must be a histogram, not a summary")
	}
}

// TestFreshRegistry checks the series that exist before anything
// happened, so that rate() and increase() count the first event.
func TestFreshRegistry(t *testing.T) {
	text, _ := scrape(t, New(Options{Backend: "mailprobe", Proxies: []string{"pool-0"}}))
	for _, line := range []string{
		`reacher_verifications_total{backend="mailprobe"} 0`,
		`reacher_verification_duration_seconds_bucket{backend="mailprobe",le="0.025"} 0`,
		`reacher_verifications_by_result{result="unknown"} 0`,
		`reacher_errors_total 0`,
		`reacher_proxy_failures_total{kind="timeout",proxy="pool-0"} 0`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("missing %q in\n%s", line, text)
		}
	}
}

func TestQueueSampleFailureKeepsCounters(t *testing.T) {
	r := New(Options{Backend: "b"})
	if err := r.WatchQueue(fixedQueue{err: errors.New("disk gone")}); err != nil {
		t.Fatal(err)
	}
	r.Observe(result("b", engine.Safe, false), time.Second)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `reacher_verifications_total{backend="b"} 1`) {
		t.Errorf("counters hidden by a failing sample:\n%s", rec.Body)
	}
	if err := r.WatchQueue(fixedQueue{}); err == nil {
		t.Error("a second WatchQueue was accepted")
	}
}

func TestMXLabelsBounded(t *testing.T) {
	r := New(Options{})
	for i := range MaxMXLabels + 50 {
		r.PolitenessWaited(fmt.Sprintf("mx%d.example.com.", i), time.Second)
	}
	_, fams := scrape(t, r)
	if n := len(fams[metrics.NamePolitenessWaits].GetMetric()); n != MaxMXLabels+1 {
		t.Errorf("%d mx series, want %d hosts and %q", n, MaxMXLabels, OtherMX)
	}
}

func TestConcurrentUse(t *testing.T) {
	r := New(Options{Backend: "b"})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				r.Observe(result("b", metrics.Verdicts[(g+i)%4], i%10 == 0), time.Duration(i)*time.Millisecond)
				r.PolitenessWaited("mx.example.com.", time.Second)
				if i%100 == 0 {
					scrape(t, r)
				}
			}
		})
	}
	wg.Wait()
	if text, _ := scrape(t, r); !strings.Contains(text, `reacher_verifications_total{backend="b"} 4000`) {
		t.Errorf("total not 4000:\n%s", text)
	}
}

func BenchmarkObserve(b *testing.B) {
	r := New(Options{Backend: "b"})
	res := result("b", engine.Safe, false)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Observe(res, time.Duration(i))
	}
}
