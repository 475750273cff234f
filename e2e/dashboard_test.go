package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dashboards "github.com/mailprobe/mailprobe/deploy"
)

// withDeadProxy puts a proxy nothing listens on first in the rotation, so
// the functions report proxy failures.
func withDeadProxy(t testing.TB) func([]string) []string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("socks5://u:p@%s", ln.Addr())
	ln.Close()
	return func(env []string) []string {
		for i, kv := range env {
			if v, ok := strings.CutPrefix(kv, "MAILPROBE_PROXIES="); ok {
				env[i] = "MAILPROBE_PROXIES=" + dead + "," + v
			}
		}
		return env
	}
}

// TestDashboardMatchesEMF runs a check and a bulk job through both
// functions, then checks that the CloudWatch dashboard of the SAM template
// reads metrics (names and dimension sets) and log fields that the EMF
// lines the functions wrote really carry, and that their verification log
// lines carry the guide's fields.
func TestDashboardMatchesEMF(t *testing.T) {
	s := deploy(t, withDeadProxy(t))
	if resp := s.call(t, event(t, "api-check-email.json")); resp.StatusCode != 200 {
		t.Fatalf("check: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := s.call(t, event(t, "api-bulk-create.json")); resp.StatusCode != 200 {
		t.Fatalf("bulk: %d %s", resp.StatusCode, resp.Body)
	}
	body, _ := json.Marshal(s.receive(t))
	s.worker.Invoke(t, body)

	tpl, err := os.ReadFile(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dash, err := dashboards.DashboardBody(tpl)
	if err != nil {
		t.Fatal(err)
	}
	_, refs, err := dashboards.ParseDashboard(dash)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split([]byte(s.api.Logs()+s.worker.Logs()), []byte("\n"))
	for _, err := range dashboards.CheckEMF(refs, lines) {
		t.Error(err)
	}

	completed := 0
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal(l, &m) != nil || m["message"] != "Verification completed" {
			continue
		}
		completed++
		for _, k := range []string{"timestamp", "level", "message", "result", "duration_ms", "backend"} {
			if _, ok := m[k]; !ok {
				t.Errorf("verification line without %s: %s", k, l)
			}
		}
		if _, ok := m["email"]; ok {
			t.Errorf("address logged without log_emails: %s", l)
		}
	}
	if completed < 4 {
		t.Errorf("%d verification lines, want one for the check and each of the 3 bulk addresses", completed)
	}
}
