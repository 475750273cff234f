package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
)

func runEnv(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: environ})
	return code, out.String(), errb.String()
}

func TestCheckPrintsConfigWarnings(t *testing.T) {
	dns := dnstest.Start(t, nil)
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"Reacher-only setting", []string{"RCH__SENTRY_DSN=https://x@sentry.example/1"}, []string{"warning: RCH__SENTRY_DSN: ignoring Reacher-only setting sentry_dsn"}},
		{"worker enable", []string{"RCH__WORKER__ENABLE=true"}, []string{"warning: RCH__WORKER__ENABLE", "no effect"}},
		{"Reacher's sender and EHLO name", nil, []string{"warning: from_email \"hello@localhost\"", "reject_non_fqdn_sender",
			"warning: hello_name \"localhost\"", "reject_non_fqdn_helo_hostname"}},
		{"none", []string{"RCH__FROM_EMAIL=probe@verify.example.com", "RCH__HELLO_NAME=verify.example.com"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runEnv(t, tt.environ, "check", "--dns", dns.Addr, "bad@@address")
			if code != 0 || !strings.Contains(out, `"is_reachable":"invalid"`) {
				t.Fatalf("exit %d, out %q, stderr %q", code, out, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
			if tt.want == nil && strings.Contains(stderr, "warning:") {
				t.Errorf("unexpected warning in %q", stderr)
			}
		})
	}
}

func TestServeRefusesSecretReference(t *testing.T) {
	for _, ref := range []string{"ssm:/mailprobe/header-secret", "secretsmanager:mailprobe-header"} {
		t.Run(ref, func(t *testing.T) {
			dir := t.TempDir()
			code, _, stderr := runEnv(t, []string{"RCH__HEADER_SECRET=" + ref},
				"serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, "only the AWS Lambda functions resolve") || strings.Contains(stderr, "listening") {
				t.Errorf("stderr %q: want the refusal, and no server", stderr)
			}
		})
	}
}

// TestServeRefusesOpenNetwork: without a secret, serve listens only on
// loopback unless told otherwise with --allow-open-network; with a secret
// any address is fine.
func TestServeRefusesOpenNetwork(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		args    []string
		want    int
	}{
		{"open on every interface", nil, []string{"--listen", "0.0.0.0:0"}, 2},
		{"open on loopback", nil, []string{"--listen", "127.0.0.1:0"}, 0},
		{"open on every interface, allowed by flag", nil, []string{"--listen", "0.0.0.0:0", "--allow-open-network"}, 0},
		{"open on every interface, allowed by config", []string{"RCH__ALLOW_OPEN_NETWORK=true"}, []string{"--listen", "0.0.0.0:0"}, 0},
		{"secret on every interface", []string{"RCH__HEADER_SECRET=s3cret-s3cret"}, []string{"--listen", "0.0.0.0:0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			var out, errb bytes.Buffer
			args := append([]string{"serve", "--data-dir", t.TempDir()}, tt.args...)
			code := Run(ctx, args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: tt.environ})
			if code != tt.want {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.want, errb.String())
			}
			if tt.want == 2 && !strings.Contains(errb.String(), "refusing to serve without a secret on a non-loopback address") {
				t.Errorf("stderr %q lacks the refusal", errb.String())
			}
		})
	}
}
