package config

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// TestEveryKeyHasAnEnvName: the RCH__ name of every declared key, derived
// from its toml path, reaches the setting (no second list of names).
func TestEveryKeyHasAnEnvName(t *testing.T) {
	for _, key := range KnownKeys() {
		key = strings.ReplaceAll(key, "<id>", "p1")
		name := EnvName(key)
		if back, ok := EnvKey(name); !ok || back != key {
			t.Errorf("EnvKey(%s) = %q, %v; want %q", name, back, ok, key)
		}
		t.Run(name, func(t *testing.T) {
			l := newLoader()
			c := Default()
			l.apply(reflect.ValueOf(&c).Elem(), envTree([]string{name + "=1"}), "")
			if len(l.unknown) > 0 {
				t.Fatalf("unknown: %v", l.unknown)
			}
			// "1" is not a valid value for every type (a proxy URL); what
			// matters is that the name reached the field.
			if _, ok := l.set[key]; !ok && !strings.Contains(errors.Join(l.errs...).Error(), name) {
				t.Errorf("%s did not set %s (errors %v)", name, key, l.errs)
			}
		})
	}
}

// TestExampleDocumentsEveryKey: backend_config.example.toml shows every
// declared key (commented out where it has no default to show).
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../backend_config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	commented := regexp.MustCompile(`(?m)^# (\[[a-z0-9_.]+\]|[a-z0-9_]+ = .+)$`)
	tr, err := fileTree("example", commented.ReplaceAllString(string(data), "$1"))
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader()
	c := Default()
	l.apply(reflect.ValueOf(&c).Elem(), tr, "")
	if len(l.errs) > 0 || len(l.unknown) > 0 {
		t.Fatalf("errors %v, unknown %v", l.errs, l.unknown)
	}
	// Map ids are examples; each provider field needs showing in one
	// provider's section, and every provider needs a section.
	idKey := regexp.MustCompile(`^overrides\.proxies\.[^.]+\.`)
	provKey := regexp.MustCompile(`^overrides\.(` + providerNames() + `)\.`)
	set := map[string]bool{}
	for k := range l.set {
		set[provKey.ReplaceAllString(idKey.ReplaceAllString(k, "overrides.proxies.<id>."), "overrides.<provider>.")] = true
	}
	for _, p := range engine.Providers() {
		if _, ok := c.Overrides.Providers[p]; !ok {
			t.Errorf("backend_config.example.toml has no [overrides.%s]", p)
		}
	}
	for _, key := range KnownKeys() {
		if key = provKey.ReplaceAllString(key, "overrides.<provider>."); !set[key] {
			t.Errorf("backend_config.example.toml does not show %s", key)
		}
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	tests := []struct {
		name, toml string
		env        []string
		want       string
	}{
		{"provider typo", "[overrides.gmial]\ntype = \"smtp\"", nil, "unknown key overrides.gmial (did you mean overrides.gmail?)"},
		{"empty table", "[overrides.gmial]", nil, "unknown key overrides.gmial (did you mean overrides.gmail?)"},
		{"field typo", "[proxy]\nhost = \"h\"\nhots = \"h\"", nil, "unknown key proxy.hots (did you mean proxy.host?)"},
		{"proxy id field", "[overrides.proxies]\np = { host = \"h\", passwd = \"x\" }", nil,
			"unknown key overrides.proxies.p.passwd (did you mean overrides.proxies.p.password?)"},
		{"env", "", []string{"RCH__THROTTLE__MAX_REQUESTS_PER_MINUT=5"},
			"RCH__THROTTLE__MAX_REQUESTS_PER_MINUT: unknown key throttle.max_requests_per_minut (did you mean throttle.max_requests_per_minute?)"},
		{"nothing close", "zzzzzzzz = 1", nil, "unknown key zzzzzzzz; ignored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTOML(t, tt.toml)
			c, err := Load(Options{File: path, Environ: tt.env})
			if err != nil {
				t.Fatalf("Load: %v (unknown keys must only warn)", err)
			}
			if got := strings.Join(c.Warnings, "\n"); !strings.Contains(got, tt.want) {
				t.Errorf("warnings %q, want one containing %q", c.Warnings, tt.want)
			}
			// strict_config in the file, or Options.Strict (--strict-config).
			strict := writeTOML(t, "strict_config = true\n"+tt.toml)
			for _, o := range []Options{{File: path, Environ: tt.env, Strict: true}, {File: strict, Environ: tt.env}} {
				if _, err := Load(o); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("strict Load error %v, want ErrUnknownKey", err)
				}
			}
		})
	}
}

func TestDurationForms(t *testing.T) {
	tests := []struct {
		name  string
		toml  string
		env   []string
		flags []Flag
		got   func(Config) time.Duration
		want  time.Duration
	}{
		{"seconds", "smtp_timeout = 30", nil, nil, func(c Config) time.Duration { return c.SMTPTimeout }, 30 * time.Second},
		{"string with unit", `smtp_timeout = "1m30s"`, nil, nil, func(c Config) time.Duration { return c.SMTPTimeout }, 90 * time.Second},
		{"env with unit", "", []string{"RCH__GREYLIST_WAIT=1500ms"}, nil, func(c Config) time.Duration { return c.GreylistWait }, 1500 * time.Millisecond},
		{"flag", "", nil, []Flag{{Name: "smtp-timeout", Key: "smtp_timeout", Value: "5s"}}, func(c Config) time.Duration { return c.SMTPTimeout }, 5 * time.Second},
		{"milliseconds", "[proxy]\nhost = \"h\"\ntimeout_ms = 250", nil, nil, func(c Config) time.Duration { return c.Proxy.Timeout }, 250 * time.Millisecond},
		{"Reacher {secs, nanos} in an override", "[overrides.gmail]\nsmtp_timeout = { secs = 30, nanos = 500000000 }", nil, nil,
			func(c Config) time.Duration { return *c.Overrides.Providers[engine.Gmail].SMTPTimeout }, 30*time.Second + 500*time.Millisecond},
		{"{secs} from the environment", "", []string{"RCH__OVERRIDES__YAHOO__SMTP_TIMEOUT__SECS=12"}, nil,
			func(c Config) time.Duration { return *c.Overrides.Providers[engine.Yahoo].SMTPTimeout }, 12 * time.Second},
		{"flags beat the environment", "", []string{"RCH__SMTP_TIMEOUT=9"}, []Flag{{Name: "smtp-timeout", Key: "smtp_timeout", Value: "3s"}},
			func(c Config) time.Duration { return c.SMTPTimeout }, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(Options{File: writeTOML(t, tt.toml), Environ: tt.env, Flags: tt.flags})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	bad := []struct{ name, toml, msg string }{
		{"negative secs", "smtp_timeout = { secs = -1 }", "secs must be a whole number ≥ 0"},
		{"unknown field", "smtp_timeout = { minutes = 1 }", "unknown field minutes"},
		{"words", `smtp_timeout = "soon"`, `not a duration: "soon"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Options{File: writeTOML(t, tt.toml)})
			if !errors.Is(err, ErrBadDuration) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v, want ErrBadDuration containing %q", err, tt.msg)
			}
		})
	}
}

func TestClosestKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"overrides.gmial", "overrides.gmail"},
		{"overrides.hotmail", "overrides.hotmailb2b"},
		{"http_prot", "http_port"},
		{"worker.rabbitmq.concurency", "worker.rabbitmq.concurrency"},
		{"overrides.proxies.myproxy.hots", "overrides.proxies.myproxy.host"},
		{"completely_unrelated_thing", ""},
	}
	for _, tt := range tests {
		if got := closestKey(tt.in); got != tt.want {
			t.Errorf("closestKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func providerNames() string {
	var names []string
	for _, p := range engine.Providers() {
		names = append(names, string(p))
	}
	return strings.Join(names, "|")
}
