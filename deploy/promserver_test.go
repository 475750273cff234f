package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

const (
	configFile = "prometheus/prometheus.yml"
	rulesFile  = "prometheus/alerts.yml"
)

// readYAML decodes a shipped YAML file into generic maps.
func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testRules writes the shipped rules with every "for" shortened to
// forDur, so that an alert fires within a test's seconds.
func testRules(t *testing.T, dir, forDur string) string {
	t.Helper()
	rules := readYAML(t, rulesFile)
	for _, g := range rules["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			r.(map[string]any)["for"] = forDur
		}
	}
	path := filepath.Join(dir, "alerts.yml")
	writeYAML(t, path, rules)
	return path
}

// testConfig writes the shipped configuration pointed at target, with its
// bearer secret in a file, rules at rulesPath, scrapes and rule
// evaluations every interval.
func testConfig(t *testing.T, dir, target, secret, rulesPath, interval string) string {
	t.Helper()
	cfg := readYAML(t, configFile)
	global := cfg["global"].(map[string]any)
	global["scrape_interval"], global["evaluation_interval"] = interval, interval
	cfg["rule_files"] = []string{rulesPath}
	secretPath := filepath.Join(dir, "mailprobe-secret")
	if err := os.WriteFile(secretPath, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	job := cfg["scrape_configs"].([]any)[0].(map[string]any)
	job["authorization"].(map[string]any)["credentials_file"] = secretPath
	job["static_configs"] = []map[string]any{{"targets": []string{target}}}
	path := filepath.Join(dir, "prometheus.yml")
	writeYAML(t, path, cfg)
	return path
}

// promServer is a private Prometheus on a free loopback port.
type promServer struct {
	base string
	logs *lockedBuffer
}

func startPrometheus(t *testing.T, bin, config string) *promServer {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+t.TempDir(),
		"--web.listen-address="+addr, "--log.level=warn")
	p := &promServer{base: "http://" + addr, logs: startProcess(t, "prometheus", cmd)}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("prometheus not ready:\n%s", p.logs.String())
	return nil
}

// apiResponse is the envelope of Prometheus's HTTP API.
type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func (p *promServer) get(t *testing.T, path string, params url.Values) apiResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r apiResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return r
}

// sample is one series of an instant vector.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float(t *testing.T) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	if err != nil {
		t.Fatalf("sample value %v: %v", s.Value, err)
	}
	return v
}

// query evaluates expr now; it returns the vector, or the API's error.
func (p *promServer) query(t *testing.T, expr string) ([]sample, error) {
	t.Helper()
	r := p.get(t, "/api/v1/query", url.Values{"query": {expr}})
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []sample `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", data.ResultType)
	}
	return data.Result, nil
}

// waitFor polls expr until cond accepts its result or the timeout passes.
func (p *promServer) waitFor(t *testing.T, what, expr string, timeout time.Duration, cond func([]sample) bool) []sample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := p.query(t, expr)
		if err == nil && cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s = %v (err %v) after %v", what, expr, got, err, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ruleState is a rule as /api/v1/rules reports it.
type ruleState struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	State     string `json:"state"`
	Type      string `json:"type"`
}

func (p *promServer) rules(t *testing.T) []ruleState {
	t.Helper()
	r := p.get(t, "/api/v1/rules", nil)
	var data struct {
		Groups []struct {
			Rules []ruleState `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil || r.Status != "success" {
		t.Fatalf("rules: %s %s: %v", r.Status, r.Error, err)
	}
	var out []ruleState
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out
}
