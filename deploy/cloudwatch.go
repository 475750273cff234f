package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// DashboardBody returns the DashboardBody of the AWS::CloudWatch::Dashboard
// resource of a CloudFormation template, with each ${...} substitution
// replaced by a placeholder of its own name, so that it parses as JSON.
func DashboardBody(template []byte) ([]byte, error) {
	t, err := samtemplate.Parse(template)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	dashboards := t.ResourcesOfType("AWS::CloudWatch::Dashboard")
	if len(dashboards) == 0 {
		return nil, errors.New("deploy: no AWS::CloudWatch::Dashboard resource")
	}
	body := dashboards[0].Property("DashboardBody")
	if body == nil || body.Kind != yaml.ScalarNode {
		return nil, errors.New("deploy: DashboardBody is not a string or !Sub string")
	}
	return []byte(subVar.ReplaceAllString(body.Value, "placeholder-$1")), nil
}

// subVar is a ${Name} or ${Name.Attribute} of Fn::Sub.
var subVar = regexp.MustCompile(`\$\{([A-Za-z0-9:.]+)\}`)

// EMFRef is what one dashboard widget reads from the EMF lines: a metric
// by a dimension set (metric widgets), or a metric field and the fields a
// Logs Insights query groups it by (log widgets).
type EMFRef struct {
	Widget     string
	Metric     string
	Dimensions []string // sorted
	Log        bool
}

func (r EMFRef) String() string {
	kind := "metric"
	if r.Log {
		kind = "log query"
	}
	return fmt.Sprintf("%s %q: %s %s by %v", kind, r.Widget, metrics.Namespace, r.Metric, r.Dimensions)
}

// Widget is one widget of a CloudWatch dashboard body, as far as the
// tests read it.
type Widget struct {
	Type       string `json:"type"`
	Properties struct {
		Title   string  `json:"title"`
		Query   string  `json:"query"`
		Metrics [][]any `json:"metrics"`
	} `json:"properties"`
}

// ParseDashboard decodes a dashboard body and lists what its widgets read
// from the mailprobe namespace.
func ParseDashboard(body []byte) ([]Widget, []EMFRef, error) {
	var d struct {
		Widgets []Widget `json:"widgets"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, nil, fmt.Errorf("deploy: dashboard body: %w", err)
	}
	var refs []EMFRef
	for _, w := range d.Widgets {
		if w.Type == "log" {
			r, err := logRef(w)
			if err != nil {
				return nil, nil, err
			}
			refs = append(refs, r)
			continue
		}
		for _, m := range w.Properties.Metrics {
			r, ok, err := metricRef(w.Properties.Title, m)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				refs = append(refs, r)
			}
		}
	}
	return d.Widgets, refs, nil
}

// search matches SEARCH('{namespace,dim,...} MetricName="name"', ...).
var search = regexp.MustCompile(`SEARCH\('\{([^}]*)\}\s+MetricName="([^"]+)"'`)

// metricRef reads one entry of a metric widget's metrics array: a SEARCH
// expression, or [namespace, name, dim, value, ..., {options}].
func metricRef(widget string, m []any) (EMFRef, bool, error) {
	if len(m) == 0 {
		return EMFRef{}, false, fmt.Errorf("deploy: widget %q: empty metric", widget)
	}
	if opts, ok := m[0].(map[string]any); ok {
		expr, _ := opts["expression"].(string)
		sm := search.FindStringSubmatch(expr)
		if sm == nil {
			return EMFRef{}, false, fmt.Errorf("deploy: widget %q: expression %q is not a SEARCH this test reads", widget, expr)
		}
		schema := strings.Split(sm[1], ",")
		if schema[0] != metrics.Namespace {
			return EMFRef{}, false, nil
		}
		dims := slices.Clone(schema[1:])
		slices.Sort(dims)
		return EMFRef{Widget: widget, Metric: sm[2], Dimensions: dims}, true, nil
	}
	ns, _ := m[0].(string)
	if ns != metrics.Namespace {
		return EMFRef{}, false, nil
	}
	name, _ := m[1].(string)
	var dims []string
	for i := 2; i+1 < len(m); i += 2 {
		if d, ok := m[i].(string); ok {
			dims = append(dims, d)
		}
	}
	slices.Sort(dims)
	return EMFRef{Widget: widget, Metric: name, Dimensions: dims}, true, nil
}

var (
	present = regexp.MustCompile(`ispresent\((\w+)\)`)
	groupBy = regexp.MustCompile(`\bby\s+([\w, ]+?)\s*(?:\||$)`)
)

// logRef reads a Logs Insights query of the form "... | filter
// ispresent(metric) | stats ... by field, ... | ...".
func logRef(w Widget) (EMFRef, error) {
	q := w.Properties.Query
	pm, gm := present.FindStringSubmatch(q), groupBy.FindStringSubmatch(q)
	if pm == nil || gm == nil {
		return EMFRef{}, fmt.Errorf("deploy: log widget %q: query %q lacks ispresent(metric) or by fields", w.Properties.Title, q)
	}
	var fields []string
	for f := range strings.SplitSeq(gm[1], ",") {
		fields = append(fields, strings.TrimSpace(f))
	}
	slices.Sort(fields)
	return EMFRef{Widget: w.Properties.Title, Metric: pm[1], Dimensions: fields, Log: true}, nil
}

// CheckEMF reports the refs that no EMF line among lines satisfies: a
// metric ref needs a line declaring the metric with exactly its dimension
// set, and carrying a value and every dimension; a log ref needs a line
// with the metric's value and every grouped field. Lines that are not EMF
// (other log lines) are ignored.
func CheckEMF(refs []EMFRef, lines [][]byte) []error {
	var docs []map[string]any
	for _, l := range lines {
		var doc map[string]any
		if json.Unmarshal(l, &doc) == nil && doc["_aws"] != nil {
			docs = append(docs, doc)
		}
	}
	var errs []error
	for _, r := range refs {
		if !slices.ContainsFunc(docs, func(doc map[string]any) bool { return satisfies(doc, r) }) {
			errs = append(errs, fmt.Errorf("%s: no EMF line carries it", r))
		}
	}
	return errs
}

func satisfies(doc map[string]any, r EMFRef) bool {
	if _, ok := doc[r.Metric].(float64); !ok {
		return false
	}
	for _, d := range r.Dimensions {
		if v, ok := doc[d].(string); !ok || v == "" {
			return false
		}
	}
	if r.Log {
		return true
	}
	var meta struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		} `json:"_aws"`
	}
	b, _ := json.Marshal(doc)
	if json.Unmarshal(b, &meta) != nil {
		return false
	}
	for _, dir := range meta.AWS.CloudWatchMetrics {
		if dir.Namespace != metrics.Namespace || !slices.ContainsFunc(dir.Metrics, func(m struct{ Name string }) bool { return m.Name == r.Metric }) {
			continue
		}
		for _, set := range dir.Dimensions {
			set = slices.Clone(set)
			slices.Sort(set)
			if slices.Equal(set, r.Dimensions) {
				return true
			}
		}
	}
	return false
}
