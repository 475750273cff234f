// Package metrics counts verifications with the metric names of Reacher's
// guide and exposes them two ways: the Prometheus text format on /metrics
// (local serve) and CloudWatch Embedded Metric Format lines (Lambda), which
// CloudWatch turns into metrics from the log stream with no API call. Each
// way is an Observer; CompletionLog adds the guide's "Verification
// completed" log line, and Observers combines them.
package metrics

import (
	"slices"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// Metric names, as in Reacher's guide.
const (
	NameVerifications = "reacher_verifications_total"
	NameByResult      = "reacher_verifications_by_result"
	NameDuration      = "reacher_verification_duration_seconds"
	NameErrors        = "reacher_errors_total"
)

// windowSize is how many recent durations the quantiles are computed over.
// A sliding window answers "how slow are we now" and costs 16 KiB; an
// unbounded history would dilute today's slowness with last week's.
const windowSize = 2048

// quantiles are the ones the guide's dashboards read.
var quantiles = [...]float64{0.5, 0.95}

// verdicts are always exposed, at zero when unseen, so a dashboard never
// shows a gap for a verdict that has not happened yet.
var verdicts = [...]engine.Reachability{engine.Safe, engine.Risky, engine.Invalid, engine.Unknown}

// Registry holds the counters. It is safe for concurrent use; the zero
// value is not usable, call New.
type Registry struct {
	mu        sync.Mutex
	byBackend map[string]uint64
	byResult  map[engine.Reachability]uint64
	errors    uint64
	count     uint64
	sum       float64   // seconds
	window    []float64 // ring buffer of the last windowSize durations, seconds
	next      int       // ring position of the next write
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{
		byBackend: make(map[string]uint64),
		byResult:  make(map[engine.Reachability]uint64),
		window:    make([]float64, 0, windowSize),
	}
}

// Observe counts one finished verification that took d.
func (r *Registry) Observe(res engine.Result, d time.Duration) {
	secs := d.Seconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byBackend[res.Debug.BackendName]++
	r.byResult[verdictOf(res)]++
	if HasError(res) {
		r.errors++
	}
	r.count++
	r.sum += secs
	if len(r.window) < windowSize {
		r.window = append(r.window, secs)
	} else {
		r.window[r.next] = secs
	}
	r.next = (r.next + 1) % windowSize
}

// IncErrors counts a failure outside a verification (a store write that
// failed, a webhook that could not be delivered).
func (r *Registry) IncErrors() {
	r.mu.Lock()
	r.errors++
	r.mu.Unlock()
}

// HasError reports whether an error object replaced a step of the result:
// the check could not conclude (timeout, proxy failure, blocked, DNS
// failure). Such results are what reacher_errors_total counts.
func HasError(res engine.Result) bool {
	return res.Misc.Err != nil || res.MX.Err != nil || res.SMTP.Err != nil
}

func verdictOf(res engine.Result) engine.Reachability {
	if res.IsReachable == "" {
		return engine.Unknown
	}
	return res.IsReachable
}

// snapshot is a consistent copy taken under the lock, so formatting runs
// without holding it.
type snapshot struct {
	byBackend map[string]uint64
	byResult  map[engine.Reachability]uint64
	errors    uint64
	count     uint64
	sum       float64
	quantiles [len(quantiles)]float64
}

func (r *Registry) snapshot() snapshot {
	r.mu.Lock()
	s := snapshot{
		byBackend: make(map[string]uint64, len(r.byBackend)),
		byResult:  make(map[engine.Reachability]uint64, len(r.byResult)),
		errors:    r.errors, count: r.count, sum: r.sum,
	}
	for k, v := range r.byBackend {
		s.byBackend[k] = v
	}
	for k, v := range r.byResult {
		s.byResult[k] = v
	}
	w := slices.Clone(r.window)
	r.mu.Unlock()
	slices.Sort(w)
	for i, q := range quantiles {
		s.quantiles[i] = quantile(w, q)
	}
	return s
}

// quantile uses the nearest-rank method on sorted values; NaN when empty,
// as Prometheus client libraries report an empty summary.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return nan()
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1 // ceil(q·n) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}
