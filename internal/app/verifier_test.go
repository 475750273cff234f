package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// TestNewVerifierOverrideRetries checks that [overrides.gmail] retries
// reaches the engine, 0 included: a server that hangs up after its banner
// is then asked once, not 1 + the top-level retries.
func TestNewVerifierOverrideRetries(t *testing.T) {
	dns := dnstest.Start(t, nil)
	proxy := sockstest.Start(t, sockstest.Options{})
	srv := smtptest.Start(t, smtptest.Options{DropAfterBanner: true})
	dns.AddMX("workspace.test.", 1, "aspmx.l.google.com.") // provider gmail
	dns.AddA("aspmx.l.google.com.", srv.Host())
	// Reacher's retries count connections: 0 and 1 are one.
	tests := []struct {
		name     string
		env      []string
		sessions int
		retries  int
	}{
		{"top-level retries", []string{"RCH__RETRIES=3"}, 3, 3},
		{"override 0", []string{"RCH__RETRIES=3", "RCH__OVERRIDES__GMAIL__RETRIES=0"}, 1, 0},
		{"override 2", []string{"RCH__RETRIES=3", "RCH__OVERRIDES__GMAIL__RETRIES=2"}, 2, 2},
		{"other provider's override", []string{"RCH__RETRIES=3", "RCH__OVERRIDES__YAHOO__RETRIES=0"}, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"MAILPROBE_PROXIES=" + proxy.URL(), fmt.Sprintf("RCH__SMTP_PORT=%d", srv.Port())}, tt.env...)
			cfg, err := config.Load(config.Options{Environ: env})
			if err != nil {
				t.Fatal(err)
			}
			cfg.DNS = []string{dns.Addr}
			cfg.AllowPrivateMX = true
			v, err := app.NewVerifier(cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			before := srv.Sessions()
			r, err := v.Verify(ctx, engine.Request{ToEmail: "x@workspace.test"})
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.Sessions() - before; got != tt.sessions {
				t.Errorf("%d sessions, want %d (%+v)", got, tt.sessions, r.SMTP.Err)
			}
			if got := r.Debug.SMTP.VerifMethod.VerifMethod.Retries; got != tt.retries {
				t.Errorf("debug retries = %d, want %d", got, tt.retries)
			}
		})
	}
}
