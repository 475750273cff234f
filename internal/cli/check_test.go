package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

func run(t testing.TB, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestCheckPrintsResultsInInputOrder(t *testing.T) {
	dns := dnstest.Start(t, nil)
	proxy := sockstest.Start(t, sockstest.Options{User: "u", Pass: "p"})
	srv := smtptest.Start(t, smtptest.Options{Users: map[string]string{"ok@cli.test": "250 OK"}})
	dns.AddMX("cli.test.", 10, "mx.cli.test.")
	dns.AddA("mx.cli.test.", srv.Host())

	stdin := "bad@@address\n\nok@cli.test\n"
	code, out, stderr := run(t, stdin, "check", "--dns", dns.Addr, "--proxy", proxy.URL(),
		"--smtp-port", fmt.Sprint(srv.Port()), "--allow-private-mx", "--concurrency", "3",
		"nobody@cli.test", "-", "x@no-such-domain.test")
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []struct{ input, verdict string }{
		{"nobody@cli.test", "invalid"}, {"bad@@address", "invalid"}, {"ok@cli.test", "safe"}, {"x@no-such-domain.test", "invalid"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		var r struct{ Input, Is_reachable string }
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if r.Input != w.input || r.Is_reachable != w.verdict {
			t.Errorf("line %d = %s %s, want %s %s", i, r.Input, r.Is_reachable, w.input, w.verdict)
		}
	}
	if strings.Contains(out+stderr, "u:p@") {
		t.Error("the proxy password was printed")
	}
}

func TestCheckWithoutProxyStillReportsMX(t *testing.T) {
	dns := dnstest.Start(t, nil)
	dns.AddMX("noproxy.test.", 10, "mx.noproxy.test.")
	dns.AddA("mx.noproxy.test.", "127.0.0.1")
	code, out, stderr := run(t, "", "check", "--dns", dns.Addr, "a@noproxy.test")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "no --proxy") {
		t.Errorf("stderr does not explain that SMTP is skipped: %q", stderr)
	}
	if !strings.Contains(out, `"accepts_mail":true`) || !strings.Contains(out, `"cause":"no_proxy"`) {
		t.Errorf("result lacks the MX answer or the no_proxy cause: %s", out)
	}
}

func TestCheckBadInvocations(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no address", []string{"check"}, "give at least one address"},
		{"unknown flag", []string{"check", "--nope", "a@b.test"}, "flag provided but not defined"},
		{"bad proxy", []string{"check", "--proxy", "http://x:1", "a@b.test"}, "--proxy"},
		{"bad concurrency", []string{"check", "--concurrency", "0", "a@b.test"}, "--concurrency"},
		{"missing config file", []string{"check", "--config", "/nonexistent.toml", "a@b.test"}, "nonexistent.toml"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"bad duration", []string{"check", "--smtp-timeout", "soon", "a@b.test"}, "smtp-timeout"},
		{"unknown key, strict", []string{"check", "--strict-config", "--config", "testdata/typo.toml", "a@b.test"},
			"unknown key overrides.gmial (did you mean overrides.gmail?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tt.args...)
			if code == 0 {
				t.Fatal("exit 0, want non-zero")
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.want)
			}
		})
	}
}

// TestCheckWarnsAboutUnknownKeys: a migrated Reacher file with a key
// mailprobe doesn't know still starts, with a warning naming the closest key.
func TestCheckWarnsAboutUnknownKeys(t *testing.T) {
	code, _, stderr := run(t, "", "check", "--config", "testdata/typo.toml", "not-an-address")
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	if !strings.Contains(stderr, "did you mean overrides.gmail?") {
		t.Errorf("stderr %q has no suggestion", stderr)
	}
}
