package api

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/doctor"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// realDoctor is a doctor wired to a loopback DNS server, an MX and a proxy
// whose password is pass.
func realDoctor(t *testing.T, pass string) *doctor.Doctor {
	t.Helper()
	dns := dnstest.Start(t, nil)
	mail := smtptest.Start(t, smtptest.Options{RevealClient: true, Source: "127.0.0.63"})
	proxy := sockstest.Start(t, sockstest.Options{User: "u", Pass: "right-pass", SourceIP: netip.MustParseAddr("127.0.0.63")})
	dns.AddMX("doctor.test.", 10, "mx.doctor.test.")
	dns.AddA("mx.doctor.test.", mail.Host())
	res, err := mx.New(mx.Config{Servers: []string{dns.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dialer.ParseProxyURL(proxy.URL())
	if err != nil {
		t.Fatal(err)
	}
	p.ID, p.Password = "eu-1", pass
	d, err := doctor.New(doctor.Config{Resolver: res, DNSServers: []string{dns.Addr}, Proxies: []dialer.Proxy{p},
		AllowPrivateMX: true, HelloName: "localhost", FromEmail: "verify@doctor.test", Port: mail.Port(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDoctorRoute(t *testing.T) {
	tests := []struct {
		name   string
		pass   string
		target string
		ok     bool
		want   string // in the body
	}{
		{"working proxy", "right-pass", "doctor.test", true, `"exit_ip":"127.0.0.63"`},
		{"wrong password", "wrong-pass", "doctor.test", false, `"kind":"proxy authentication failed"`},
		{"target that does not exist", "right-pass", "nowhere.test", false, `"name":"target","status":"fail"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(_ *Config, d *Deps) { d.Doctor = realDoctor(t, tt.pass) })
			r := hs.do(t, "GET", "/v1/doctor?target="+tt.target, "", nil)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var rep doctor.Report
			if err := json.Unmarshal(r.body, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.OK != tt.ok || rep.Target.Input != tt.target || !strings.Contains(string(r.body), tt.want) {
				t.Errorf("ok %v target %q, want %v %q; body lacks %s?\n%s", rep.OK, rep.Target.Input, tt.ok, tt.target, tt.want, r.body)
			}
			if strings.Contains(string(r.body), "-pass") {
				t.Errorf("body leaks the proxy password: %s", r.body)
			}
		})
	}
}

// stubDoctor records the deadline and target it was run with.
type stubDoctor struct {
	target   string
	deadline time.Duration
}

func (s *stubDoctor) Run(ctx context.Context, target string) doctor.Report {
	s.target = target
	if dl, ok := ctx.Deadline(); ok {
		s.deadline = time.Until(dl)
	}
	return doctor.ConfigError(context.Canceled)
}

func TestDoctorRouteErrors(t *testing.T) {
	stub := &stubDoctor{}
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.InlineBudget = 3 * time.Second
		c.Throttle.PerMinute = 2
		d.Doctor = stub
	})
	if r := hs.do(t, "GET", "/v1/doctor", "", nil); r.status != 200 || stub.target != "" || stub.deadline <= 0 || stub.deadline > 3*time.Second {
		t.Errorf("default target: status %d, target %q, deadline %v (want within the 3s inline budget)", r.status, stub.target, stub.deadline)
	}
	if r := hs.do(t, "GET", "/v1/doctor?target=a%20b", "", nil); r.status != 400 || !strings.Contains(r.errorText(t), "Invalid target") {
		t.Errorf("bad target: %d %s", r.status, r.body)
	}
	if r := hs.do(t, "GET", "/v1/doctor", "", map[string]string{"x-reacher-secret": ""}); r.status != 401 {
		t.Errorf("no secret: %d", r.status)
	}
	if r := hs.do(t, "GET", "/v1/doctor", "", nil); r.status != 429 {
		t.Errorf("third request in a minute with a limit of 2: %d %s", r.status, r.body)
	}

	none := newHarness(t, nil)
	if r := none.do(t, "GET", "/v1/doctor", "", nil); r.status != 503 {
		t.Errorf("no doctor: %d %s", r.status, r.body)
	}
}
