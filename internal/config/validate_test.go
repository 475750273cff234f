package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// fieldKeys returns the keys of every FieldError in err's tree.
func fieldKeys(err error) []string {
	var keys []string
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*FieldError); ok {
			keys = append(keys, fe.Key)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	slices.Sort(keys)
	return keys
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		env  []string
		keys []string // FieldError keys, sorted
	}{
		{"http_port 0", "http_port = 0", nil, []string{"http_port"}},
		{"http_port too big", "http_port = 65536", nil, []string{"http_port"}},
		{"smtp_port", "smtp_port = -1", nil, []string{"smtp_port"}},
		{"http_host empty", `http_host = ""`, nil, []string{"http_host"}},
		{"smtp_timeout 0", "smtp_timeout = 0", nil, []string{"smtp_timeout"}},
		{"smtp_timeout negative", "smtp_timeout = -5", nil, []string{"smtp_timeout"}},
		{"inline_budget 0", "inline_budget = 0", nil, []string{"inline_budget"}},
		{"cache_ttl negative", "cache_ttl = -1", nil, []string{"cache_ttl"}},
		{"greylist_wait negative", "greylist_wait = -1", nil, []string{"greylist_wait"}},
		{"retries negative", "retries = -1", nil, []string{"retries"}},
		{"hello_name space", `hello_name = "a b"`, nil, []string{"hello_name"}},
		{"hello_name CRLF", `hello_name = "a\r\nMAIL FROM:<x>"`, nil, []string{"hello_name"}},
		{"hello_name empty", `hello_name = ""`, nil, []string{"hello_name"}},
		{"from_email no at", `from_email = "hello"`, nil, []string{"from_email"}},
		{"from_email two ats", `from_email = "a@b@c"`, nil, []string{"from_email"}},
		{"from_email bracket", `from_email = "a@b>"`, nil, []string{"from_email"}},
		{"from_email empty local", `from_email = "@b"`, nil, []string{"from_email"}},
		{"log_level", `log_level = "verbose"`, nil, []string{"log_level"}},
		{"dns", `dns = ["127.0.0.1", "h:0"]`, nil, []string{"dns[0]", "dns[1]"}},
		{"secret ref empty", `header_secret = "ssm:"`, nil, []string{"header_secret"}},
		{"secretsmanager ref empty", `header_secret = "secretsmanager: "`, nil, []string{"header_secret"}},
		{"proxy", "[proxy]\nport = 70000\ntimeout_ms = -1", nil,
			[]string{"proxy.host", "proxy.port", "proxy.timeout_ms"}},
		{"proxies", "[overrides.proxies]\np1 = { port = 0 }", nil,
			[]string{"overrides.proxies.p1.host", "overrides.proxies.p1.port"}},
		{"override type", "[overrides.gmail]\ntype = \"imap\"", nil, []string{"overrides.gmail.type"}},
		{"override proxy missing", "[overrides.yahoo]\nproxy = \"proxy9\"", nil, []string{"overrides.yahoo.proxy"}},
		{"override default proxy without [proxy]", "[overrides.yahoo]\nproxy = \"default\"", nil,
			[]string{"overrides.yahoo.proxy"}},
		{"override fields", "[overrides.mimecast]\nhello_name = \"a b\"\nfrom_email = \"x\"\n" +
			"smtp_port = 0\nsmtp_timeout = 0\nretries = -2", nil, []string{
			"overrides.mimecast.from_email", "overrides.mimecast.hello_name", "overrides.mimecast.retries",
			"overrides.mimecast.smtp_port", "overrides.mimecast.smtp_timeout"}},
		{"override port too big", "[overrides.proofpoint]\nsmtp_port = 70000", nil,
			[]string{"overrides.proofpoint.smtp_port"}},
		{"throttle", "[throttle]\nmax_requests_per_second = -1\nmax_requests_per_minute = -1\n" +
			"max_requests_per_hour = -1\nmax_requests_per_day = -1", nil, []string{
			"throttle.max_requests_per_day", "throttle.max_requests_per_hour",
			"throttle.max_requests_per_minute", "throttle.max_requests_per_second"}},
		{"worker", "[worker]\nconcurrency = 0\n[worker.rabbitmq]\nconcurrency = 0", nil,
			[]string{"worker.concurrency", "worker.rabbitmq.concurrency"}},
		{"storage half", "[storage]\ndynamodb_table = \"t\"", nil, []string{"storage"}},
		{"all together", "http_port = 0\nsmtp_timeout = 0\n[throttle]\nmax_requests_per_day = -1", nil,
			[]string{"http_port", "smtp_timeout", "throttle.max_requests_per_day"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Options{File: writeTOML(t, tt.toml), Environ: tt.env})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load error %v, want ErrInvalid", err)
			}
			if got := fieldKeys(err); !slices.Equal(got, tt.keys) {
				t.Errorf("invalid keys %q, want %q (error: %v)", got, tt.keys, err)
			}
		})
	}
}

func TestValidConfigs(t *testing.T) {
	tests := []struct {
		name string
		toml string
	}{
		{"empty", ""},
		{"zero throttle is unlimited", "[throttle]\nmax_requests_per_minute = 0\nmax_requests_per_day = 0"},
		{"cache disabled", "cache_ttl = 0"},
		{"default proxy with [proxy]", "[proxy]\nhost = \"h\"\n[overrides.gmail]\nproxy = \"default\""},
		{"ssm ref", `header_secret = "ssm:/mailprobe/secret"`},
		{"aws storage", "[storage]\ndynamodb_table = \"t\"\nsqs_queue_url = \"https://q\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(Options{File: writeTOML(t, tt.toml)}); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		toml string
		msgs []string
	}{
		{"typo in provider", "[overrides.gmial]\ntype = \"smtp\"",
			[]string{"backend_config.toml: unknown key overrides.gmial (did you mean overrides.gmail?)"}},
		{"empty unknown table", "[overrides.gmial]", []string{"unknown key overrides.gmial"}},
		{"top-level typo", "http_prot = 1", []string{"unknown key http_prot"}},
		{"several", "a = 1\n[throttle]\nmax_requests_per_week = 1\n[proxy]\nhost = \"h\"\nhostname = \"h\"",
			[]string{"unknown key a", "unknown key throttle.max_requests_per_week", "unknown key proxy.hostname"}},
		{"inline proxy field", "[overrides.proxies]\np = { host = \"h\", passwd = \"x\" }",
			[]string{"unknown key overrides.proxies.p.passwd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Options{File: writeTOML(t, tt.toml), Strict: true})
			if !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("Load error %v, want ErrUnknownKey", err)
			}
			for _, m := range tt.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
		})
	}
}

func TestBadTOML(t *testing.T) {
	tests := []struct{ name, toml string }{
		{"syntax", "http_port = "},
		{"type", `http_port = true`},
		{"table for a value", "[http_port]\nx = 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(Options{File: writeTOML(t, tt.toml)}); err == nil {
				t.Error("Load succeeded, want error")
			}
		})
	}
}
