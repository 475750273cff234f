package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

func TestEnvOverrides(t *testing.T) {
	file := "testdata/backend_config.toml"
	tests := []struct {
		name string
		path string
		env  []string
		got  func(Config) any
		want any
	}{
		{"http_port", "", []string{"RCH__HTTP_PORT=9000"}, func(c Config) any { return c.HTTPPort }, 9000},
		{"env beats file", file, []string{"RCH__HTTP_PORT=9001"}, func(c Config) any { return c.HTTPPort }, 9001},
		{"PORT beats RCH__HTTP_PORT", file, []string{"PORT=7000", "RCH__HTTP_PORT=9001"},
			func(c Config) any { return c.HTTPPort }, 7000},
		{"empty value is unset", file, []string{"RCH__HTTP_PORT=", "PORT="},
			func(c Config) any { return c.HTTPPort }, 9090},
		{"smtp_timeout seconds", "", []string{"RCH__SMTP_TIMEOUT=12"},
			func(c Config) any { return c.SMTPTimeout }, 12 * time.Second},
		{"header_secret", "", []string{"RCH__HEADER_SECRET=from-env"},
			func(c Config) any { return c.HeaderSecret.Reveal() }, "from-env"},
		{"throttle", "", []string{"RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE=5", "RCH__THROTTLE__MAX_REQUESTS_PER_DAY=0",
			"RCH__THROTTLE__MAX_REQUESTS_PER_SECOND=1", "RCH__THROTTLE__MAX_REQUESTS_PER_HOUR=7"},
			func(c Config) any { return c.Throttle }, Throttle{PerSecond: 1, PerMinute: 5, PerHour: 7}},
		{"proxy from env only", "", []string{"RCH__PROXY__HOST=127.0.0.1", "RCH__PROXY__PASSWORD=pw"},
			func(c Config) any { return *c.Proxy }, Proxy{Host: "127.0.0.1", Port: 1080, Password: NewSecret("pw")}},
		{"proxy field over file", file, []string{"RCH__PROXY__PORT=2000", "RCH__PROXY__TIMEOUT_MS=250"},
			func(c Config) any { return *c.Proxy }, Proxy{Host: "proxy.example.org", Port: 2000, Username: "user0",
				Password: NewSecret("pw0-secret"), Timeout: 250 * time.Millisecond}},
		{"overrides.proxies id", "", []string{"RCH__OVERRIDES__PROXIES__PROXY9__HOST=h9",
			"RCH__OVERRIDES__PROXIES__PROXY9__PORT=9", "RCH__OVERRIDES__PROXIES__PROXY9__USERNAME=u"},
			func(c Config) any { return c.Overrides.Proxies["proxy9"] }, Proxy{Host: "h9", Port: 9, Username: "u"}},
		{"override type", "", []string{"RCH__OVERRIDES__GMAIL__TYPE=skip"},
			func(c Config) any { return c.Overrides.Providers[engine.Gmail] }, ProviderRule{Type: "skip"}},
		{"override fields", file, []string{"RCH__OVERRIDES__GMAIL__PROXY=proxy2", "RCH__OVERRIDES__GMAIL__RETRIES=3",
			"RCH__OVERRIDES__GMAIL__SMTP_PORT=26", "RCH__OVERRIDES__GMAIL__SMTP_TIMEOUT=5",
			"RCH__OVERRIDES__GMAIL__HELLO_NAME=h.example", "RCH__OVERRIDES__GMAIL__FROM_EMAIL=a@h.example"},
			func(c Config) any { return c.Overrides.Providers[engine.Gmail] }, ProviderRule{Type: MethodSMTP, Proxy: "proxy2",
				HelloName: "h.example", FromEmail: "a@h.example", SMTPPort: ptr(26), SMTPTimeout: ptr(5 * time.Second), Retries: ptr(3)}},
		{"worker", "", []string{"RCH__WORKER__ENABLE=true", "RCH__WORKER__RABBITMQ__CONCURRENCY=2",
			"RCH__WORKER__CONCURRENCY=4"}, func(c Config) any { return c.Worker },
			Worker{Enable: true, RabbitMQ: RabbitMQ{Concurrency: 2}, Concurrency: 4, RcptsPerMinutePerMX: 60, RecipientsPerSession: 50}},
		{"booleans and lists", "", []string{"RCH__ALLOW_DIRECT=1", "RCH__ALLOW_PRIVATE_MX=true",
			"RCH__ALLOW_PRIVATE_WEBHOOKS=TRUE", "RCH__LOG_EMAILS=t", "RCH__DNS=127.0.0.1:53, 127.0.0.2:53",
			"RCH__ALLOW_OPEN_NETWORK=true", "RCH__ALLOWED_HOSTS=mailprobe.internal,api.example.org"},
			func(c Config) any {
				return []any{c.AllowDirect, c.AllowPrivateMX, c.AllowPrivateWebhooks, c.LogEmails, c.DNS, c.AllowOpenNetwork, c.AllowedHosts}
			}, []any{true, true, true, true, []string{"127.0.0.1:53", "127.0.0.2:53"}, true, []string{"mailprobe.internal", "api.example.org"}}},
		{"durations", "", []string{"RCH__CACHE_TTL=0", "RCH__GREYLIST_WAIT=30", "RCH__INLINE_BUDGET=10"},
			func(c Config) any { return []time.Duration{c.CacheTTL, c.GreylistWait, c.InlineBudget} },
			[]time.Duration{0, 30 * time.Second, 10 * time.Second}},
		{"MAILPROBE_ variables", "", []string{"MAILPROBE_TABLE=mailprobe", "MAILPROBE_QUEUE_URL=http://q/1",
			"MAILPROBE_LOG_LEVEL=WARN", "MAILPROBE_DATA_DIR=/tmp/d", "RCH__LOG_LEVEL=debug", "MAILPROBE_EXPORT_BUCKET=exports-1"},
			func(c Config) any { return []any{c.Storage, c.LogLevel} },
			[]any{Storage{DynamoDBTable: "mailprobe", SQSQueueURL: "http://q/1", DataDir: "/tmp/d", ExportBucket: "exports-1"}, "warn"}},
		{"MAILPROBE_PROXIES", "", []string{"MAILPROBE_PROXIES=socks5://u:p%40ss@10.0.0.1:1081, socks5h://h2"},
			func(c Config) any { return c.ProxyPool }, ProxyList{
				{Host: "10.0.0.1", Port: 1081, Username: "u", Password: NewSecret("p@ss")},
				{Host: "h2", Port: 1080}}},
		{"storage", "", []string{"RCH__STORAGE__DYNAMODB_TABLE=t", "RCH__STORAGE__SQS_QUEUE_URL=https://q",
			"RCH__STORAGE__DATA_DIR=/d"}, func(c Config) any { return c.Storage },
			Storage{DynamoDBTable: "t", SQSQueueURL: "https://q", DataDir: "/d"}},
		{"huge duration saturates", "", []string{"RCH__SMTP_TIMEOUT=9223372036854775807"},
			func(c Config) any { return c.SMTPTimeout }, time.Duration(1<<63 - 1)},
		{"other variables ignored", "", []string{"HOME=/root", "RCH_HTTP_PORT=1", "MAILPROBE_SQS_ENDPOINT=x"},
			func(c Config) any { return c.HTTPPort }, 8080},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.path, tt.env)
			if got := tt.got(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name   string
		env    []string
		target error
		msg    string
	}{
		{"int", []string{"RCH__HTTP_PORT=abc"}, ErrNotANumber, `RCH__HTTP_PORT: not a number: "abc"`},
		{"PORT", []string{"PORT=x"}, ErrNotANumber, `PORT: not a number: "x"`},
		{"duration", []string{"RCH__SMTP_TIMEOUT=forever"}, ErrBadDuration, `RCH__SMTP_TIMEOUT: not a duration: "forever"`},
		{"nested int", []string{"RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE=lots"}, ErrNotANumber,
			`RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE: not a number: "lots"`},
		{"bool", []string{"RCH__WORKER__ENABLE=yes"}, ErrNotABool, `RCH__WORKER__ENABLE: not a boolean: "yes"`},
		{"unknown top", []string{"RCH__HTTP_PORTT=1"}, ErrUnknownKey, "RCH__HTTP_PORTT: unknown key http_portt"},
		{"unknown provider", []string{"RCH__OVERRIDES__GMIAL__TYPE=smtp"}, ErrUnknownKey,
			"RCH__OVERRIDES__GMIAL__TYPE: unknown key overrides.gmial (did you mean overrides.gmail?)"},
		{"unknown proxy field", []string{"RCH__PROXY__HOSTNAME=x"}, ErrUnknownKey,
			"RCH__PROXY__HOSTNAME: unknown key proxy.hostname"},
		{"bad proxy URL", []string{"MAILPROBE_PROXIES=http://u:hunter2@h:1"}, ErrBadProxyURL,
			`MAILPROBE_PROXIES: entry 1: invalid proxy URL: unsupported scheme "http", want socks5`},
		// The URL grammar (dialer.ParseProxyURL) checks the port range.
		{"proxy URL port", []string{"MAILPROBE_PROXIES=socks5://h:0"}, ErrBadProxyURL,
			"MAILPROBE_PROXIES: entry 1: invalid proxy URL: invalid port, want 1-65535"},
		{"unknown storage key", []string{"RCH__STORAGE__BUCKET=b"}, ErrUnknownKey,
			"RCH__STORAGE__BUCKET: unknown key storage.bucket"},
		{"negative huge duration", []string{"RCH__GREYLIST_WAIT=-9223372036854775807"}, ErrInvalid, "greylist_wait"},
		{"validation after env", []string{"RCH__HTTP_PORT=0"}, ErrInvalid, "http_port: must be 1-65535, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Options{Environ: tt.env, Strict: true})
			if !errors.Is(err, tt.target) {
				t.Fatalf("Load error %v, want errors.Is %v", err, tt.target)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Load error %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestEnvReportsAllErrors(t *testing.T) {
	_, err := Load(Options{Environ: []string{"RCH__HTTP_PORT=a", "RCH__SMTP_PORT=b", "RCH__NOPE=1"}, Strict: true})
	for _, want := range []string{"RCH__HTTP_PORT", "RCH__SMTP_PORT", "RCH__NOPE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestEnvReacherOnlyWarns(t *testing.T) {
	c := mustLoad(t, "", []string{"RCH__WEBDRIVER_ADDR=http://x", "RCH__STORAGE__0__POSTGRES__DB_URL=postgres://x",
		"RCH__WORKER__RABBITMQ__URL=amqp://x", "RCH__COMMERCIAL_LICENSE_TRIAL__API_TOKEN=t"})
	if len(c.Warnings) != 4 {
		t.Fatalf("warnings = %q, want 4", c.Warnings)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "amqp://") || strings.Contains(w, "postgres://") {
			t.Errorf("warning %q repeats a value", w)
		}
	}
}

func TestParseProxyURLs(t *testing.T) {
	tests := []struct {
		in      string
		want    []Proxy
		wantErr bool
	}{
		{"", nil, false},
		{"socks5://h", []Proxy{{Host: "h", Port: 1080}}, false},
		{"socks5://u@[::1]:9?timeout_ms=1500", []Proxy{{Host: "::1", Port: 9, Username: "u",
			Timeout: 1500 * time.Millisecond}}, false},
		{"socks5://u:hunter2@h:notaport", nil, true},
		{"socks5://:hunter2@", nil, true},
		{"socks5://u:hunter2@h:1?timeout_ms=x", nil, true},
		{"socks5://u:hunter2@h:1\x7f", nil, true},
		{"socks5://h:0", nil, true},
		{"socks5://u:" + strings.Repeat("p", 256) + "@h", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProxyURLs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks the password", err)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEnvKeyOfAliases(t *testing.T) {
	for _, a := range aliases {
		if key, ok := EnvKey(a.env); !ok || key != a.key {
			t.Errorf("EnvKey(%s) = %q, %v; want %q", a.env, key, ok, a.key)
		}
	}
	for _, name := range []string{"PATH", "RCH__", "MAILPROBE_OTHER"} {
		if key, ok := EnvKey(name); ok {
			t.Errorf("EnvKey(%s) = %q, want none", name, key)
		}
	}
}
