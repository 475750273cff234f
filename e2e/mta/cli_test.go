package mta

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/cli"
)

// mailprobe check runs the same engine from the command line: the flags
// reach the real servers through the proxy.
func TestCLICheck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := startPostfix(t, w)
	common := []string{"check", "--dns", w.dns.Addr, "--proxy", w.proxy.URL(), "--smtp-port", itoa(w.lb.Port),
		"--allow-private-mx", "--smtp-timeout", smtpTimeout.String(), "--greylist-wait", greylistWait.String()}
	t.Run("FQDN sender", func(t *testing.T) {
		args := append(common, "--from-email", fqdnSender, "--hello-name", fqdnHello,
			"known@pf.test", "nobody@pf.test", "anyone@all.test", "full@pf.test", "disabled@pf.test")
		out, stderr := runCLI(t, args...)
		want := []engine.Reachability{engine.Safe, engine.Invalid, engine.Risky, engine.Risky, engine.Invalid}
		if len(out) != len(want) {
			t.Fatalf("got %d results, want %d; stderr:\n%s", len(out), len(want), stderr)
		}
		for i, r := range out {
			if r.IsReachable != want[i] {
				t.Errorf("%s: %s, want %s (%+v)", r.Input, r.IsReachable, want[i], r.SMTP.Err)
			}
		}
		if strings.Contains(stderr, "fully-qualified") {
			t.Errorf("warned about FQDN settings that are fully-qualified:\n%s", stderr)
		}
	})
	// Reacher's defaults (hello@localhost, localhost) are refused by
	// Postfix's reject_non_fqdn_* restrictions: every address is
	// unknown, none invalid, and the CLI says why at start-up.
	t.Run("Reacher defaults", func(t *testing.T) {
		out, stderr := runCLI(t, append(common, "known@pf.test", "nobody@pf.test")...)
		if len(out) != 2 {
			t.Fatalf("got %d results, want 2; stderr:\n%s", len(out), stderr)
		}
		for _, r := range out {
			if r.IsReachable != engine.Unknown {
				t.Errorf("%s: %s, want unknown (%+v)", r.Input, r.IsReachable, r.SMTP.Err)
			}
		}
		for _, w := range []string{"from_email", "hello_name", "reject_non_fqdn_sender", "reject_non_fqdn_helo_hostname"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("the start-up warning does not name %s:\n%s", w, stderr)
			}
		}
	})
	w.viaProxy(t, s)
}

func runCLI(t *testing.T, args ...string) ([]engine.Result, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != 0 {
		t.Fatalf("mailprobe %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	var out []engine.Result
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var r engine.Result
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out, stderr.String()
}
