// Package prom is the Prometheus registry of `mailprobe serve`, read on
// GET /metrics: the guide's four metrics (with the duration as a
// histogram, so that histogram_quantile works) and the operator metrics
// named in package metrics, each with HELP and TYPE lines and the same
// label names on every series.
//
// It uses the official client library (github.com/prometheus/client_golang)
// with a registry of its own, never the global default one, so that tests
// and several servers in one process do not share counters. Only the local
// server imports this package; the Lambda functions write EMF instead.
package prom

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/internal/metrics"
)

// MaxMXLabels bounds the distinct MX hosts the politeness metrics name;
// later hosts are counted under OtherMX. Hosts that never wait get no
// series, so the cap is reached only by a job spread over very many busy
// mail servers, and keeps the number of series bounded whatever the input.
const MaxMXLabels = 100

// OtherMX is the mx label of the hosts beyond MaxMXLabels.
const OtherMX = "other"

// Options configure New.
type Options struct {
	// Backend labels the results that name no backend. Its series exist
	// from the start, at zero, so rate() and increase() see the first
	// verification.
	Backend string
	// Proxies are the configured proxy ids; their failure series exist
	// from the start for the same reason.
	Proxies []string
}

// Registry holds mailprobe's Prometheus metrics. It implements
// metrics.Observer and metrics.Events and serves the exposition format as
// an http.Handler. It is safe for concurrent use.
type Registry struct {
	reg           *prometheus.Registry
	handler       http.Handler
	backend       string
	verifications *prometheus.CounterVec
	byResult      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	errors        prometheus.Counter
	proxyFailures *prometheus.CounterVec
	waits         *prometheus.CounterVec
	waitSeconds   *prometheus.CounterVec

	mu  sync.Mutex
	mxs map[string]struct{} // mx label values in use, at most MaxMXLabels
}

// New returns a registry with every metric registered, the Go runtime and
// process collectors included.
func New(opts Options) *Registry {
	r := &Registry{
		reg:     prometheus.NewRegistry(),
		backend: opts.Backend,
		mxs:     make(map[string]struct{}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.NameVerifications, Help: "Verifications completed, by backend.",
		}, []string{"backend"}),
		byResult: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.NameByResult, Help: "Verifications completed, by verdict (is_reachable).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metrics.NameDuration,
			Help:    "Duration of verifications in seconds, by backend.",
			Buckets: metrics.DurationBuckets,
		}, []string{"backend"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.NameErrors,
			Help: "Verifications that ended with an error object, and processing failures (store, webhook, queue).",
		}),
		proxyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.NameProxyFailures,
			Help: "Failed dials through a configured SOCKS5 proxy where the proxy was at fault, by proxy id and kind (unreachable, auth, protocol, timeout).",
		}, []string{"proxy", "kind"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.NamePolitenessWaits,
			Help: "SMTP sessions that waited for the per-MX politeness limits, by MX host (at most 100 hosts, then \"other\").",
		}, []string{"mx"}),
		waitSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.NamePolitenessWaitSeconds,
			Help: "Seconds SMTP sessions waited for the per-MX politeness limits, by MX host.",
		}, []string{"mx"}),
	}
	r.reg.MustRegister(r.verifications, r.byResult, r.duration, r.errors, r.proxyFailures, r.waits, r.waitSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.verifications.WithLabelValues(opts.Backend)
	r.duration.WithLabelValues(opts.Backend)
	for _, v := range metrics.Verdicts {
		r.byResult.WithLabelValues(string(v))
	}
	for _, id := range opts.Proxies {
		for _, k := range metrics.ProxyFailureKinds {
			r.proxyFailures.WithLabelValues(id, k)
		}
	}
	r.handler = promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		// A failing queue sample must not hide the counters.
		ErrorHandling: promhttp.ContinueOnError,
	})
	return r
}

// ServeHTTP writes the metrics in the Prometheus text format.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.handler.ServeHTTP(w, req)
}

// Observe counts one finished verification that took d.
func (r *Registry) Observe(res engine.Result, d time.Duration) {
	backend := res.Debug.BackendName
	if backend == "" {
		backend = r.backend
	}
	r.verifications.WithLabelValues(backend).Inc()
	r.byResult.WithLabelValues(string(metrics.Verdict(res))).Inc()
	r.duration.WithLabelValues(backend).Observe(d.Seconds())
	if metrics.HasError(res) {
		r.errors.Inc()
	}
}

// IncErrors counts a failure outside a verification.
func (r *Registry) IncErrors() { r.errors.Inc() }

// ProxyFailed counts a failed dial through p when the proxy was at fault
// (metrics.ProxyFailureKind).
func (r *Registry) ProxyFailed(p dialer.Proxy, err *dialer.ProxyError) {
	if kind, ok := metrics.ProxyFailureKind(err); ok {
		r.proxyFailures.WithLabelValues(p.ID, kind).Inc()
	}
}

// PolitenessWaited counts a session to mxHost that waited d, when d
// reaches metrics.PolitenessWaitThreshold.
func (r *Registry) PolitenessWaited(mxHost string, d time.Duration) {
	if d < metrics.PolitenessWaitThreshold {
		return
	}
	mx := r.mxLabel(mxHost)
	r.waits.WithLabelValues(mx).Inc()
	r.waitSeconds.WithLabelValues(mx).Add(d.Seconds())
}

// mxLabel returns host, or OtherMX once MaxMXLabels other hosts are named.
func (r *Registry) mxLabel(host string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.mxs[host]; ok {
		return host
	}
	if len(r.mxs) >= MaxMXLabels {
		return OtherMX
	}
	r.mxs[host] = struct{}{}
	return host
}
