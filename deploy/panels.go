// Package deploy holds what an operator installs beside mailprobe: the
// Grafana dashboard (grafana/mailprobe.json) and the Prometheus scrape
// configuration and alerting rules (prometheus/) for `mailprobe serve`'s
// /metrics. The CloudWatch dashboard of the Lambda deployment is a
// resource of infra/template.yaml with the same panels.
//
// The dashboard is generated from Panels (go test ./deploy -update), and
// the tests evaluate the generated file's queries and the rules'
// expressions against a real Prometheus scraping a real `mailprobe serve`,
// so the shipped queries are the tested ones.
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Panel is one graph of the dashboards.
type Panel struct {
	Title       string
	Description string
	Expr        string // PromQL, evaluated as is by the tests
	Legend      string // Grafana legendFormat
	Unit        string // Grafana unit id
	Stacked     bool
}

// Panels are the dashboard's graphs: the guide's four first, then what an
// operator of a queue-driven verifier needs beside them. The CloudWatch
// dashboard in infra/template.yaml has a widget of the same title for
// each.
var Panels = []Panel{
	{
		Title:       "Verification throughput",
		Description: "Verifications completed per second, by backend (rate(reacher_verifications_total[5m])).",
		Expr:        `sum by (backend) (rate(reacher_verifications_total[5m]))`,
		Legend:      "{{backend}}", Unit: "ops",
	},
	{
		Title:       "Verifications by result",
		Description: "Verifications completed per second, by verdict (is_reachable).",
		Expr:        `sum by (result) (rate(reacher_verifications_by_result[5m]))`,
		Legend:      "{{result}}", Unit: "ops", Stacked: true,
	},
	{
		Title:       "Verification duration p95",
		Description: "95th percentile of the time one verification takes, from the duration histogram.",
		Expr:        `histogram_quantile(0.95, sum by (le) (rate(reacher_verification_duration_seconds_bucket[5m])))`,
		Legend:      "p95", Unit: "s",
	},
	{
		Title:       "Error rate",
		Description: "Verifications that ended with an error object (timeout, proxy, blocked, DNS), and processing failures, per second.",
		Expr:        `sum(rate(reacher_errors_total[5m]))`,
		Legend:      "errors", Unit: "ops",
	},
	{
		Title:       "Retries waiting",
		Description: "Addresses waiting for a retry: greylisted, temporarily failing, or handed back unfinished.",
		Expr:        `sum(reacher_retries_waiting)`,
		Legend:      "addresses", Unit: "short",
	},
	{
		Title:       "Proxy failures by proxy",
		Description: "Failed dials through a configured SOCKS5 proxy where the proxy was at fault, per second, by proxy id and kind.",
		Expr:        `sum by (proxy, kind) (rate(reacher_proxy_failures_total[5m]))`,
		Legend:      "{{proxy}} {{kind}}", Unit: "ops",
	},
	{
		Title:       "Politeness waits by MX",
		Description: "Seconds per second SMTP sessions spent waiting for the per-MX politeness limits, for the 10 most waited-for MX hosts.",
		Expr:        `topk(10, sum by (mx) (rate(reacher_politeness_wait_seconds_total[5m])))`,
		Legend:      "{{mx}}", Unit: "s",
	},
	{
		Title:       "Queue depth",
		Description: "Messages of the work and dead-letter queues, by state.",
		Expr:        `sum by (queue, state) (reacher_queue_messages)`,
		Legend:      "{{queue}} {{state}}", Unit: "short",
	},
	{
		Title:       "Oldest message age",
		Description: "Age of the oldest message waiting to be received, by queue.",
		Expr:        `max by (queue) (reacher_queue_oldest_message_age_seconds)`,
		Legend:      "{{queue}}", Unit: "s",
	},
}

// datasource refers to the dashboard's data source variable, so the
// dashboard imports into any Grafana whatever its Prometheus is named.
var datasource = map[string]string{"type": "prometheus", "uid": "${datasource}"}

// Grafana returns the dashboard JSON model of panels (Grafana 9 and
// later: timeseries panels, schema version 39), indented, with a final
// newline.
func Grafana(panels []Panel) ([]byte, error) {
	ps := make([]map[string]any, len(panels))
	for i, p := range panels {
		ps[i] = grafanaPanel(i, p)
	}
	dash := map[string]any{
		"uid":           "mailprobe",
		"title":         "mailprobe",
		"description":   "mailprobe serve: verifications, durations, errors, retries, proxies, politeness and queues.",
		"tags":          []string{"mailprobe", "reacher"},
		"timezone":      "browser",
		"editable":      true,
		"schemaVersion": 39,
		"version":       1,
		"refresh":       "30s",
		"time":          map[string]string{"from": "now-6h", "to": "now"},
		"templating": map[string]any{"list": []map[string]any{{
			"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
		}}},
		"panels": ps,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep PromQL's > and & readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(dash); err != nil {
		return nil, fmt.Errorf("deploy: encode dashboard: %w", err)
	}
	return buf.Bytes(), nil
}

// grafanaPanel lays panels out two per row, 12 columns by 8 rows each.
func grafanaPanel(i int, p Panel) map[string]any {
	custom := map[string]any{"drawStyle": "line", "fillOpacity": 10, "lineWidth": 1, "showPoints": "never"}
	if p.Stacked {
		custom["stacking"] = map[string]string{"mode": "normal", "group": "A"}
		custom["fillOpacity"] = 60
	}
	return map[string]any{
		"id":          i + 1,
		"type":        "timeseries",
		"title":       p.Title,
		"description": p.Description,
		"datasource":  datasource,
		"gridPos":     map[string]int{"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i / 2)},
		"fieldConfig": map[string]any{
			"defaults":  map[string]any{"unit": p.Unit, "min": 0, "custom": custom},
			"overrides": []any{},
		},
		"options": map[string]any{
			"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
			"tooltip": map[string]string{"mode": "multi", "sort": "desc"},
		},
		"targets": []map[string]any{{
			"refId": "A", "datasource": datasource, "expr": p.Expr, "legendFormat": p.Legend, "range": true,
		}},
	}
}
