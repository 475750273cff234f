package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
)

// TestVerifyDNSRetryHint checks that a resolver failure is a provisional
// unknown, rescheduled by a queue worker, while a domain that does not
// exist or takes no mail is a final invalid.
func TestVerifyDNSRetryHint(t *testing.T) {
	e := newEnv(t)
	e.dns.SetRcode("servfail.test.", dns.RcodeServerFailure)
	e.dns.SetRcode("refused.test.", dns.RcodeRefused)
	e.dns.Drop("silent.test.")
	e.dns.AddRR(dnstest.RR(t, "nullmx.test. 300 IN MX 0 ."))
	e.dns.AddRR(dnstest.RR(t, "nomail.test. 300 IN TXT \"v=spf1 -all\""))
	v := e.verifier(t, func(c *engine.Config) {
		// Short, so that the silent server's timeouts come quickly.
		res, err := mx.New(mx.Config{Servers: []string{e.dns.Addr}, Timeout: 100 * time.Millisecond, Attempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.Resolver = res
	})
	tests := []struct {
		email   string
		want    engine.Reachability
		mxError string
		retry   bool
	}{
		{"x@servfail.test", engine.Unknown, "ResolveError/dns", true},
		{"x@refused.test", engine.Unknown, "ResolveError/dns", true},
		{"x@silent.test", engine.Unknown, "ResolveError/dns", true},
		{"x@does-not-exist.test", engine.Invalid, "", false},
		{"x@nullmx.test", engine.Invalid, "", false},
		{"x@nomail.test", engine.Invalid, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req := engine.Request{ToEmail: tt.email}
			one, err := v.Verify(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			batch, err := v.VerifyBatch(ctx, []engine.Request{req, req})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range append([]engine.Result{one}, batch...) {
				if r.IsReachable != tt.want || errType(r.MX) != tt.mxError {
					t.Errorf("got %s %+v, want %s %q", r.IsReachable, r.MX.Err, tt.want, tt.mxError)
				}
				if (r.Retry != nil) != tt.retry {
					t.Fatalf("retry hint %+v, want present=%v", r.Retry, tt.retry)
				}
				if tt.retry && (r.Retry.Reason != "dns" || r.Retry.After <= 0) {
					t.Errorf("retry hint %+v, want reason dns and a delay", r.Retry)
				}
			}
		})
	}
}
