package lambdalocal

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/config"
)

func TestParseArgs(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "backend_config.toml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := ParseArgs([]string{"--proxy", "socks5://a:b@127.0.0.1:1", "--proxy", "socks5://c:d@127.0.0.1:2",
		"--allow-private-mx", "--smtp-timeout", "5s", "--config", cfg, "--visibility-timeout", "40s",
		"--function-timeout", "30s", "--parameter-overrides", "WorkerMaxConcurrency=2 LogLevel='debug'"},
		[]string{"RCH__HEADER_SECRET=s3cret-value"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Flag{
		{Name: "proxy", Key: "proxy_urls", Value: "socks5://a:b@127.0.0.1:1,socks5://c:d@127.0.0.1:2"},
		{Name: "smtp-timeout", Key: "smtp_timeout", Value: "5s"},
		{Name: "allow-private-mx", Key: "allow_private_mx", Value: "true"},
	}
	if !reflect.DeepEqual(o.Engine, want) {
		t.Errorf("engine flags %+v, want %+v", o.Engine, want)
	}
	if o.Secret != "s3cret-value" || o.ConfigFile != cfg || o.VisibilityTimeout != 40*time.Second ||
		o.FunctionTimeout != 30*time.Second || !reflect.DeepEqual(o.Overrides, map[string]string{"WorkerMaxConcurrency": "2", "LogLevel": "debug"}) {
		t.Errorf("options %+v", o)
	}
}

func TestMainErrors(t *testing.T) {
	tests := []struct {
		args    []string
		environ []string
		code    int
		text    string
	}{
		{[]string{"extra"}, nil, 2, `unexpected argument "extra"`},
		{[]string{"--parameter-overrides", "novalue"}, nil, 2, "want Key=Value"},
		{[]string{"--api-concurrency", "0"}, nil, 2, "at least 1"},
		{[]string{"--config", "/nonexistent/file.toml"}, nil, 2, "--config"},
		{nil, []string{"RCH__HEADER_SECRET=ssm:/mailprobe/secret"}, 2, "cannot be resolved locally"},
		{[]string{"--template", "/nonexistent/template.yaml"}, nil, 1, "no such file"},
		{[]string{"--template", "../../infra/template.yaml", "--config-file", "", "--parameter-overrides", "Nope=1"}, nil, 1, "Nope is not a parameter"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		code := Main(context.Background(), tt.args, tt.environ, &bytes.Buffer{}, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.text) {
			t.Errorf("%v: exit %d, %q; want %d containing %q", tt.args, code, stderr.String(), tt.code, tt.text)
		}
	}
}
