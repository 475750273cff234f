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

// unnamedBackend stands in for an empty backend name: CloudWatch refuses
// empty dimension values and would drop the whole line.
const unnamedBackend = "unnamed"

// EMF writes one CloudWatch Embedded Metric Format line (JSON followed by a
// newline) for one verification. Lambda ships stdout to CloudWatch Logs,
// which extracts the metrics itself: no SDK call, no latency, no IAM
// permission in the hot path.
//
// The line is written with a single Write call, so lines from concurrent
// goroutines never interleave on an *os.File (its writes are serialized);
// other writers must be guarded by the caller.
func EMF(w io.Writer, now time.Time, res engine.Result, d time.Duration) error {
	backend := res.Debug.BackendName
	if backend == "" {
		backend = unnamedBackend
	}
	errs := 0
	if HasError(res) {
		errs = 1
	}
	line := emfLine{
		AWS: emfMeta{
			Timestamp: now.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  Namespace,
				Dimensions: [][]string{{"backend"}, {"backend", "result"}},
				Metrics: []emfMetric{
					{Name: NameVerifications, Unit: "Count"},
					{Name: NameByResult, Unit: "Count"},
					{Name: NameDuration, Unit: "Seconds"},
					{Name: NameErrors, Unit: "Count"},
				},
			}},
		},
		Backend:       backend,
		Result:        string(verdictOf(res)),
		Verifications: 1,
		ByResult:      1,
		Duration:      d.Seconds(),
		Errors:        errs,
	}
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
