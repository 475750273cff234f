package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func templateDashboard(t *testing.T) ([]Widget, []EMFRef) {
	t.Helper()
	tpl, err := os.ReadFile(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := DashboardBody(tpl)
	if err != nil {
		t.Fatal(err)
	}
	ws, refs, err := ParseDashboard(body)
	if err != nil {
		t.Fatal(err)
	}
	return ws, refs
}

// TestCloudWatchSamePanels checks the template's dashboard has the
// Grafana dashboard's panels, by title and in order.
func TestCloudWatchSamePanels(t *testing.T) {
	ws, _ := templateDashboard(t)
	var got, want []string
	for _, w := range ws {
		got = append(got, w.Properties.Title)
	}
	for _, p := range Panels {
		want = append(want, p.Title)
	}
	if !slices.Equal(got, want) {
		t.Errorf("CloudWatch widgets %q\nwant the Grafana panels %q", got, want)
	}
}

// awsMetric is a queue or function metric the widgets may read, with the
// template resource its dimension must name.
var awsDimension = regexp.MustCompile(`^placeholder-(JobQueue\.QueueName|DeadLetterQueue\.QueueName|SqsWorkerFunction|ApiFunction)$`)

// TestCloudWatchAWSMetrics checks the queue and function metrics name
// the template's own queues and functions.
func TestCloudWatchAWSMetrics(t *testing.T) {
	ws, _ := templateDashboard(t)
	n := 0
	for _, w := range ws {
		for _, m := range w.Properties.Metrics {
			ns, ok := m[0].(string)
			if !ok {
				continue
			}
			n++
			dim, _ := m[2].(string)
			val, _ := m[3].(string)
			switch {
			case ns == "AWS/SQS" && dim == "QueueName", ns == "AWS/Lambda" && dim == "FunctionName":
			default:
				t.Errorf("widget %q: %v: want AWS/SQS by QueueName or AWS/Lambda by FunctionName", w.Properties.Title, m)
			}
			if !awsDimension.MatchString(val) {
				t.Errorf("widget %q: %v names no queue or function of the template", w.Properties.Title, m)
			}
		}
	}
	if n == 0 {
		t.Error("no queue or function metric")
	}
}

// TestCheckEMF runs the dashboard's references against the EMF golden
// lines of package metrics (one of each kind), and shows that a reference
// with the wrong dimensions is caught. The Lambda end-to-end run
// (e2e.TestDashboardMatchesEMF) does the same with the lines the functions
// really wrote.
func TestCheckEMF(t *testing.T) {
	_, refs := templateDashboard(t)
	if len(refs) < 5 {
		t.Fatalf("%d EMF references, want the guide's four and the operator ones: %v", len(refs), refs)
	}
	golden, err := os.ReadFile(filepath.Join("..", "internal", "metrics", "testdata", "emf.golden"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(golden, []byte("\n"))
	for _, err := range CheckEMF(refs, lines) {
		t.Error(err)
	}
	wrong := []EMFRef{
		{Widget: "w", Metric: "reacher_verifications_by_result", Dimensions: []string{"result"}},
		{Widget: "w", Metric: "reacher_proxy_failure_total", Dimensions: []string{"backend", "proxy"}},
		{Widget: "w", Metric: "reacher_politeness_wait_seconds", Dimensions: []string{"host"}, Log: true},
	}
	if errs := CheckEMF(wrong, lines); len(errs) != len(wrong) {
		t.Errorf("CheckEMF found %d of %d wrong references: %v", len(errs), len(wrong), errs)
	}
	for _, r := range refs {
		if !strings.HasPrefix(r.Metric, "reacher_") {
			t.Errorf("%s", r)
		}
	}
}
