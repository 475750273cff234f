package app

import (
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/config"
)

func TestStartupWarningsNameTheRestrictions(t *testing.T) {
	tests := []struct {
		name        string
		from, hello string
		override    config.ProviderRule
		want        []string // substrings, one warning each, in order
	}{
		{"Reacher defaults", "hello@localhost", "localhost", config.ProviderRule{},
			[]string{"from_email \"hello@localhost\"", "hello_name \"localhost\""}},
		{"fully-qualified", "probe@verify.example.com", "verify.example.com", config.ProviderRule{}, nil},
		{"address literal EHLO", "probe@verify.example.com", "[192.0.2.1]", config.ProviderRule{}, nil},
		{"IPv6 literal EHLO", "probe@verify.example.com", "[IPv6:2001:db8::1]", config.ProviderRule{}, nil},
		{"trailing dot", "probe@verify.example.com", "verify.example.com.", config.ProviderRule{}, nil},
		{"bad literal", "probe@verify.example.com", "[not-an-ip]", config.ProviderRule{}, []string{"hello_name"}},
		{"override", "probe@verify.example.com", "verify.example.com", config.ProviderRule{FromEmail: "me@box", HelloName: "box"},
			[]string{"overrides.gmail.from_email \"me@box\"", "overrides.gmail.hello_name \"box\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Warnings = nil
			cfg.FromEmail, cfg.HelloName = tt.from, tt.hello
			cfg.Overrides.Providers = map[engine.Provider]config.ProviderRule{engine.Gmail: tt.override}
			got := StartupWarnings(cfg)
			if len(got) != len(tt.want) {
				t.Fatalf("StartupWarnings = %q, want %d warnings", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to name %s", i, got[i], w)
				}
			}
			for _, g := range got {
				restriction := "reject_non_fqdn_sender"
				if strings.Contains(g, "hello_name") {
					restriction = "reject_non_fqdn_helo_hostname or reject_invalid_helo_hostname"
				}
				if !strings.Contains(g, restriction) {
					t.Errorf("%q does not name %s", g, restriction)
				}
			}
		})
	}
}

func TestStartupWarningsKeepTheLoaderOnes(t *testing.T) {
	cfg := config.Default()
	cfg.FromEmail, cfg.HelloName = "probe@verify.example.com", "verify.example.com"
	cfg.Warnings = []string{"unknown key gmial"}
	if got := StartupWarnings(cfg); len(got) != 1 || got[0] != "unknown key gmial" {
		t.Errorf("StartupWarnings = %q", got)
	}
}
