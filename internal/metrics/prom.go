package metrics

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the Prometheus text exposition format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// ServeHTTP writes the metrics in the Prometheus text format.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", ContentType)
	if req.Method == http.MethodHead {
		return
	}
	s := r.snapshot()
	bw := bufio.NewWriter(w)
	writeProm(bw, s)
	_ = bw.Flush() // nothing to do when the scraper went away
}

func writeProm(w *bufio.Writer, s snapshot) {
	header(w, NameVerifications, "Verifications completed, by backend.", "counter")
	backends := make([]string, 0, len(s.byBackend))
	for b := range s.byBackend {
		backends = append(backends, b)
	}
	slices.Sort(backends)
	for _, b := range backends {
		fmt.Fprintf(w, "%s{backend=\"%s\"} %d\n", NameVerifications, escapeLabel(b), s.byBackend[b])
	}

	header(w, NameByResult, "Verifications completed, by verdict (is_reachable).", "counter")
	for _, v := range verdicts {
		fmt.Fprintf(w, "%s{result=\"%s\"} %d\n", NameByResult, v, s.byResult[v])
	}

	header(w, NameErrors, "Verifications that ended with an error object, and processing failures.", "counter")
	fmt.Fprintf(w, "%s %d\n", NameErrors, s.errors)

	header(w, NameDuration, "Duration of verifications in seconds, over a sliding window of recent ones.", "summary")
	for i, q := range quantiles {
		fmt.Fprintf(w, "%s{quantile=\"%s\"} %s\n", NameDuration, formatFloat(q), formatFloat(s.quantiles[i]))
	}
	fmt.Fprintf(w, "%s_sum %s\n", NameDuration, formatFloat(s.sum))
	fmt.Fprintf(w, "%s_count %d\n", NameDuration, s.count)
}

func header(w *bufio.Writer, name, help, typ string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// escapeLabel applies the format's escapes for label values: backslash,
// double quote and line feed.
func escapeLabel(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// formatFloat writes floats as the format wants them: Go's shortest 'g'
// form, and NaN/+Inf/-Inf spelled that way.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func nan() float64 { return math.NaN() }
