package engine_test

import (
	"context"
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// TestVerifyCatchAllProbeByDomain checks which domains get the catch-all
// probe: all but Gmail's consumer ones. Outlook.com and Yahoo accept any
// RCPT, so without the probe a missing mailbox there would come back safe.
func TestVerifyCatchAllProbeByDomain(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(t, nil)
	tests := []struct {
		domain string
		probed bool
		want   engine.Reachability
	}{
		{"gmail.com", false, engine.Safe},
		{"googlemail.com", false, engine.Safe},
		{"hotmail.com", true, engine.Risky},
		{"outlook.com", true, engine.Risky},
		{"yahoo.com", true, engine.Risky},
		{"gmx.de", true, engine.Risky},
		{"example.com", true, engine.Risky},
		{"accept-all.test", true, engine.Risky},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			srv := e.mailServer(t, tt.domain, smtptest.Options{CatchAll: true})
			r := verify(t, v, "someone@"+tt.domain, srv.Port())
			batch, err := v.VerifyBatch(context.Background(), []engine.Request{
				{ToEmail: "a@" + tt.domain, SMTPPort: srv.Port()}, {ToEmail: "b@" + tt.domain, SMTPPort: srv.Port()},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range append([]engine.Result{r}, batch...) {
				if r.IsReachable != tt.want || r.SMTP.Value.IsCatchAll != tt.probed {
					t.Errorf("%s: %s is_catch_all=%v, want %s %v", r.Input, r.IsReachable, r.SMTP.Value.IsCatchAll, tt.want, tt.probed)
				}
			}
			// Verify asks 1 address, the batch 2; the probe adds one RCPT
			// to each when the domain is probed.
			want := 3
			if tt.probed {
				want += 2
			}
			if got := srv.Rcpts(); got != want {
				t.Errorf("%d RCPTs, want %d", got, want)
			}
		})
	}
}
