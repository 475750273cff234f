package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// Namespace is the CloudWatch namespace of the EMF metrics.
const Namespace = "mailprobe"

// unnamed stands in for an empty dimension value (a backend name, a proxy
// id): CloudWatch refuses empty dimension values and would drop the whole
// line.
const unnamed = "unnamed"

// EMF writes one CloudWatch Embedded Metric Format line (JSON followed by a
// newline) for one verification. Lambda ships stdout to CloudWatch Logs,
// which extracts the metrics itself: no SDK call, no latency, no IAM
// permission in the hot path. The duration is a raw value: CloudWatch
// computes percentiles (p95) from the values themselves.
//
// The line is written with a single Write call, so lines from concurrent
// goroutines never interleave on an *os.File (its writes are serialized);
// other writers must be guarded by the caller.
func EMF(w io.Writer, now time.Time, res engine.Result, d time.Duration) error {
	errs := 0
	if HasError(res) {
		errs = 1
	}
	return writeEMF(w, emfLine{
		AWS: meta(now, [][]string{{"backend"}, {"backend", "result"}},
			emfMetric{NameVerifications, "Count"}, emfMetric{NameByResult, "Count"},
			emfMetric{NameDuration, "Seconds"}, emfMetric{NameErrors, "Count"}),
		Backend:       orUnnamed(res.Debug.BackendName),
		Result:        string(Verdict(res)),
		Verifications: 1,
		ByResult:      1,
		Duration:      d.Seconds(),
		Errors:        errs,
	})
}

// emfError writes the EMF line of one failure outside a verification: the
// same reacher_errors_total metric, by backend.
func emfError(w io.Writer, now time.Time, backend string) error {
	return writeEMF(w, errorLine{
		AWS:     meta(now, [][]string{{"backend"}}, emfMetric{NameErrors, "Count"}),
		Backend: orUnnamed(backend),
		Errors:  1,
	})
}

// emfProxyFailure writes the EMF line of one failed dial through the
// proxy with id proxyID. The kind is a property, not a dimension: a
// dimension would multiply the custom metrics CloudWatch bills.
func emfProxyFailure(w io.Writer, now time.Time, backend, proxyID, kind string) error {
	return writeEMF(w, proxyFailureLine{
		AWS:      meta(now, [][]string{{"backend", "proxy"}}, emfMetric{NameProxyFailures, "Count"}),
		Backend:  orUnnamed(backend),
		Proxy:    orUnnamed(proxyID),
		Kind:     kind,
		Failures: 1,
	})
}

// emfPolitenessWait writes the EMF line of one SMTP session that waited d
// (possibly zero) for the politeness limits of mxHost. The MX host is a
// property, not a dimension: one custom metric per MX host would cost more
// than the probes; CloudWatch Logs Insights groups by it instead.
func emfPolitenessWait(w io.Writer, now time.Time, backend, mxHost string, d time.Duration) error {
	return writeEMF(w, politenessLine{
		AWS:     meta(now, [][]string{{"backend"}}, emfMetric{NamePolitenessWait, "Seconds"}),
		Backend: orUnnamed(backend),
		MX:      mxHost,
		Wait:    d.Seconds(),
	})
}

// orUnnamed returns a dimension value, or unnamed for an empty one.
func orUnnamed(v string) string {
	if v == "" {
		return unnamed
	}
	return v
}

func meta(now time.Time, dims [][]string, ms ...emfMetric) emfMeta {
	return emfMeta{
		Timestamp: now.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace: Namespace, Dimensions: dims, Metrics: ms,
		}},
	}
}

func writeEMF(w io.Writer, line any) error {
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("metrics: encode EMF line: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("metrics: write EMF line: %w", err)
	}
	return nil
}

// emfLine is the EMF specification's root object: the _aws metadata, then
// the dimension values and metric values as top-level members.
type emfLine struct {
	AWS           emfMeta `json:"_aws"`
	Backend       string  `json:"backend"`
	Result        string  `json:"result"`
	Verifications int     `json:"reacher_verifications_total"`
	ByResult      int     `json:"reacher_verifications_by_result"`
	Duration      float64 `json:"reacher_verification_duration_seconds"`
	Errors        int     `json:"reacher_errors_total"`
}

type errorLine struct {
	AWS     emfMeta `json:"_aws"`
	Backend string  `json:"backend"`
	Errors  int     `json:"reacher_errors_total"`
}

type proxyFailureLine struct {
	AWS      emfMeta `json:"_aws"`
	Backend  string  `json:"backend"`
	Proxy    string  `json:"proxy"`
	Kind     string  `json:"kind"`
	Failures int     `json:"reacher_proxy_failures_total"`
}

type politenessLine struct {
	AWS     emfMeta `json:"_aws"`
	Backend string  `json:"backend"`
	MX      string  `json:"mx"`
	Wait    float64 `json:"reacher_politeness_wait_seconds"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"` // epoch milliseconds
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}
