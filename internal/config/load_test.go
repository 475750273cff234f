package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// writeTOML writes data to a backend_config.toml in a fresh directory.
func writeTOML(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backend_config.toml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, path string, env []string) Config {
	t.Helper()
	c, err := Load(Options{File: path, Environ: env})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func TestDefaults(t *testing.T) {
	c := mustLoad(t, "", nil)
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load(\"\", nil) = %+v, want Default() %+v", c, Default())
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"http_host", c.HTTPHost, "127.0.0.1"},
		{"http_port", c.HTTPPort, 8080},
		{"hello_name", c.HelloName, "localhost"},
		{"from_email", c.FromEmail, "hello@localhost"},
		{"smtp_timeout", c.SMTPTimeout, 45 * time.Second},
		{"smtp_port", c.SMTPPort, 25},
		{"retries", c.Retries, 1},
		{"header_secret unset", c.HeaderSecret.IsZero(), true},
		{"proxy", c.Proxy, (*Proxy)(nil)},
		{"throttle off, as Reacher", c.Throttle, Throttle{}},
		{"worker", c.Worker, Worker{RabbitMQ: RabbitMQ{Concurrency: 2}, Concurrency: 10, RcptsPerMinutePerMX: 60, RecipientsPerSession: 50}},
		{"cache off", c.CacheTTL, time.Duration(0)},
		{"allow_private_webhooks", c.AllowPrivateWebhooks, false},
		{"allow_open_network", c.AllowOpenNetwork, false},
		{"allowed_hosts", c.AllowedHosts, []string(nil)},
		{"allow_direct", c.AllowDirect, false},
		{"inline_budget", c.InlineBudget, 25 * time.Second},
		{"log_level", c.LogLevel, "info"},
		{"aws storage", c.Storage.AWS(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	c := mustLoad(t, "testdata/backend_config.toml", nil)
	gmail := c.Overrides.Providers[engine.Gmail]
	yahoo := c.Overrides.Providers[engine.Yahoo]
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"backend_name", c.BackendName, "backend-test"},
		{"http_host", c.HTTPHost, "0.0.0.0"},
		{"http_port", c.HTTPPort, 9090},
		{"hello_name", c.HelloName, "mx.example.org"},
		{"from_email", c.FromEmail, "probe@example.org"},
		{"smtp_timeout", c.SMTPTimeout, 30 * time.Second},
		{"smtp_port", c.SMTPPort, 2525},
		{"retries", c.Retries, 2},
		{"header_secret", c.HeaderSecret.Reveal(), "s3cret-from-file"},
		{"cache_ttl", c.CacheTTL, time.Hour},
		{"allow_private_mx", c.AllowPrivateMX, true},
		{"allow_direct", c.AllowDirect, true},
		{"allow_private_webhooks", c.AllowPrivateWebhooks, true},
		{"allowed_hosts", c.AllowedHosts, []string{"mailprobe.internal"}},
		{"dns", c.DNS, []string{"127.0.0.1:5353", "[::1]:53"}},
		{"greylist_wait", c.GreylistWait, 90 * time.Second},
		{"log_level", c.LogLevel, "debug"},
		{"log_emails", c.LogEmails, true},
		{"inline_budget", c.InlineBudget, 20 * time.Second},
		{"proxy", *c.Proxy, Proxy{Host: "proxy.example.org", Port: 1081, Username: "user0",
			Password: NewSecret("pw0-secret"), Timeout: 5 * time.Second}},
		{"proxies.proxy1", c.Overrides.Proxies["proxy1"], Proxy{Host: "p1.example.org", Port: 1080, Username: "u1",
			Password: NewSecret("pw1-secret")}},
		{"proxies.proxy2", c.Overrides.Proxies["proxy2"], Proxy{Host: "p2.example.org", Port: 1082}},
		{"overrides.gmail", gmail, ProviderRule{Type: MethodSMTP, Proxy: "proxy1",
			HelloName: "gmail-hello.example.org", FromEmail: "gmail@example.org"}},
		{"overrides.hotmailb2c", c.Overrides.Providers[engine.HotmailB2C], ProviderRule{Type: "headless"}},
		{"overrides.yahoo", yahoo, ProviderRule{Type: MethodSMTP, Proxy: "default", SMTPPort: ptr(587),
			SMTPTimeout: ptr(20 * time.Second), Retries: ptr(0)}},
		{"overrides count", len(c.Overrides.Providers), 3},
		{"throttle", c.Throttle, Throttle{PerSecond: 20, PerMinute: 100, PerHour: 1000, PerDay: 20000}},
		{"worker", c.Worker, Worker{Enable: true, RabbitMQ: RabbitMQ{Concurrency: 3}, Concurrency: 8, RcptsPerMinutePerMX: 60, RecipientsPerSession: 50}},
		{"storage", c.Storage, Storage{DataDir: "/var/lib/mailprobe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
	t.Run("warnings", func(t *testing.T) {
		want := []string{"sentry_dsn", "storage.postgres", "webdriver", "webdriver_addr", "worker.rabbitmq.url"}
		var got []string
		for _, w := range c.Warnings {
			if w == workerEnableWarning("testdata/backend_config.toml") {
				continue // TestWorkerEnableWarning
			}
			got = append(got, w[strings.LastIndex(w, " ")+1:])
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("warned about %q, want %q", got, want)
		}
	})
}

func TestExampleFile(t *testing.T) {
	const path = "../../backend_config.example.toml"
	// A commented-out setting or section, as opposed to prose.
	commentedSetting := regexp.MustCompile(`(?m)^# (\[[a-z0-9_.]+\]|[a-z0-9_]+ = .+)$`)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Reacher's [worker] enable, if the example sets it, warns that it
	// has no effect; any other warning is a mistake in the example.
	otherWarnings := func(path string, c Config) []string {
		w := slices.DeleteFunc(c.Warnings, func(w string) bool { return w == workerEnableWarning(path) })
		if len(w) == 0 {
			return nil // as in Default()
		}
		return w
	}
	t.Run("as shipped: the defaults", func(t *testing.T) {
		c := mustLoad(t, path, nil)
		c.Warnings = otherWarnings(path, c)
		if len(c.Warnings) != 0 {
			t.Errorf("warnings: %q", c.Warnings)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("example values differ from the defaults:\n got %+v\nwant %+v", c, Default())
		}
	})
	t.Run("every commented setting is valid", func(t *testing.T) {
		all := commentedSetting.ReplaceAllString(string(data), "$1")
		tmp := writeTOML(t, all)
		c := mustLoad(t, tmp, nil)
		if c.Warnings = otherWarnings(tmp, c); len(c.Warnings) != 0 {
			t.Errorf("warnings: %q", c.Warnings)
		}
		if c.Proxy == nil || len(c.Overrides.Proxies) != 2 || len(c.Overrides.Providers) != len(engine.Providers()) ||
			c.HeaderSecret.IsZero() || !c.Storage.AWS() {
			t.Errorf("uncommented example lacks a section: %+v", c)
		}
	})
}

// TestWorkerEnableWarning: Reacher's [worker] enable is accepted and
// parsed, with a warning that it has no effect, whatever its value and
// wherever it is set.
func TestWorkerEnableWarning(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		env    []string
		want   []string // sources warned about
		enable bool
	}{
		{"unset", "", nil, nil, false},
		{"file true", "[worker]\nenable = true\n", nil, []string{"file"}, true},
		{"file false", "[worker]\nenable = false\n", nil, []string{"file"}, false},
		{"env", "", []string{"RCH__WORKER__ENABLE=false"}, []string{"RCH__WORKER__ENABLE"}, false},
		{"both: the last source", "[worker]\nenable = false\n", []string{"RCH__WORKER__ENABLE=true"}, []string{"RCH__WORKER__ENABLE"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTOML(t, tt.file)
			c := mustLoad(t, path, tt.env)
			var want []string
			for _, src := range tt.want {
				if src == "file" {
					src = path
				}
				want = append(want, workerEnableWarning(src))
			}
			if !slices.Equal(c.Warnings, want) {
				t.Errorf("warnings %q, want %q", c.Warnings, want)
			}
			if c.Worker.Enable != tt.enable {
				t.Errorf("Worker.Enable = %v, want %v (still parsed)", c.Worker.Enable, tt.enable)
			}
		})
	}
	if w := workerEnableWarning("RCH__WORKER__ENABLE"); !strings.Contains(w, "no effect") || !strings.Contains(w, "Reacher compatibility") {
		t.Errorf("warning %q does not say it is accepted for compatibility and has no effect", w)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(Options{File: filepath.Join(t.TempDir(), "nope.toml")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want os.ErrNotExist", err)
	}
}

func BenchmarkLoad(b *testing.B) {
	env := []string{"RCH__HTTP_PORT=9000", "RCH__OVERRIDES__GMAIL__TYPE=smtp", "MAILPROBE_PROXIES=socks5://u:p@h:1"}
	for b.Loop() {
		if _, err := Load(Options{File: "testdata/backend_config.toml", Environ: env}); err != nil {
			b.Fatal(err)
		}
	}
}
