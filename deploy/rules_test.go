package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestPromtoolChecks runs promtool on the shipped rules, and on the
// shipped configuration with its credentials file in place.
func TestPromtoolChecks(t *testing.T) {
	promtool := requireTool(t, "promtool")
	if out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	dir := t.TempDir()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := readYAML(t, configFile)
	secret := filepath.Join(dir, "mailprobe-secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg["scrape_configs"].([]any)[0].(map[string]any)["authorization"].(map[string]any)["credentials_file"] = secret
	path := filepath.Join(dir, "prometheus.yml")
	writeYAML(t, path, cfg) // rule_files stay relative: alerts.yml beside it
	if out, err := exec.Command(promtool, "check", "config", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

// TestRulesCover checks the alerts the issue names are there, each with a
// severity for Alertmanager routing, a summary, and a for: the test
// shortens.
func TestRulesCover(t *testing.T) {
	var names []string
	for _, g := range readYAML(t, rulesFile)["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			name, _ := rule["alert"].(string)
			names = append(names, name)
			labels, _ := rule["labels"].(map[string]any)
			ann, _ := rule["annotations"].(map[string]any)
			if labels["severity"] == nil || ann["summary"] == nil || rule["for"] == nil {
				t.Errorf("rule %s: severity %v, summary %v, for %v", name, labels["severity"], ann["summary"], rule["for"])
			}
		}
	}
	for _, want := range []string{"MailprobeHighErrorRate", "MailprobeNoProgress", "MailprobeProxyFailing", "MailprobeDeadLetters"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s alert", want)
		}
	}
}
