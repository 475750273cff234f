package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite grafana/mailprobe.json from Panels")

// GrafanaFile is the shipped dashboard.
var grafanaFile = filepath.Join("grafana", "mailprobe.json")

// TestGrafanaFileIsGenerated keeps the shipped dashboard equal to what
// Panels generate: edit Panels, then run go test ./deploy -update.
func TestGrafanaFileIsGenerated(t *testing.T) {
	want, err := Grafana(Panels)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(grafanaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(grafanaFile)
	if err != nil {
		t.Fatalf("%v (run go test ./deploy -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from Panels: run go test ./deploy -update", grafanaFile)
	}
}

// grafanaDashboard is the part of Grafana's dashboard model the tests read.
type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name, Type, Query string
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int                      `json:"id"`
		Type       string                   `json:"type"`
		Title      string                   `json:"title"`
		Datasource map[string]string        `json:"datasource"`
		GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
		Targets    []struct {
			RefID      string            `json:"refId"`
			Expr       string            `json:"expr"`
			Datasource map[string]string `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

// readGrafana parses the shipped dashboard.
func readGrafana(t *testing.T) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(grafanaFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", grafanaFile, err)
	}
	return d
}

// grafanaQueries returns the shipped dashboard's queries by panel title,
// in panel order.
func grafanaQueries(t *testing.T) (titles, exprs []string) {
	t.Helper()
	for _, p := range readGrafana(t).Panels {
		for _, tg := range p.Targets {
			titles, exprs = append(titles, p.Title), append(exprs, tg.Expr)
		}
	}
	return titles, exprs
}

// TestGrafanaStructure checks what Grafana needs to import the file: a
// uid, a data source variable every panel and target uses, unique panel
// ids, panels on a 24-column grid that do not overlap, one query each,
// and the guide's four panels first.
func TestGrafanaStructure(t *testing.T) {
	d := readGrafana(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	if len(d.Templating.List) != 1 || d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Query != "prometheus" {
		t.Errorf("templating %+v, want one prometheus data source variable", d.Templating.List)
	}
	ref := "${" + d.Templating.List[0].Name + "}"
	ids := map[int]bool{}
	cells := map[[2]int]string{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d repeated", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "timeseries" || p.Datasource["uid"] != ref || len(p.Targets) != 1 {
			t.Errorf("panel %q: type %s, datasource %v, %d targets", p.Title, p.Type, p.Datasource, len(p.Targets))
		}
		for _, tg := range p.Targets {
			if tg.Datasource["uid"] != ref || tg.RefID == "" || strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: target %+v", p.Title, tg)
			}
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok {
					t.Fatalf("panels %q and %q overlap", other, p.Title)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
	}
	_, exprs := grafanaQueries(t)
	for i, metric := range []string{"reacher_verifications_total", "reacher_verifications_by_result",
		"reacher_verification_duration_seconds_bucket", "reacher_errors_total"} {
		if i >= len(exprs) || !strings.Contains(exprs[i], metric) {
			t.Errorf("panel %d does not read the guide's %s", i+1, metric)
		}
	}
	if !slices.ContainsFunc(exprs, func(e string) bool { return strings.HasPrefix(e, "histogram_quantile(0.95,") }) {
		t.Error("no p95 panel over the histogram")
	}
}
