package cli

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/doctor"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// doctorWorld starts a DNS server, an MX that shows the client's address
// and serves only the proxy's exit IP, and an authenticating proxy; it
// returns the flags that describe them.
func doctorWorld(t *testing.T) (proxy *sockstest.Server, flags []string) {
	t.Helper()
	const exit = "127.0.0.62"
	dns := dnstest.Start(t, nil)
	mail := smtptest.Start(t, smtptest.Options{RevealClient: true, Source: exit})
	proxy = sockstest.Start(t, sockstest.Options{User: "u", Pass: "s3cret!", SourceIP: netip.MustParseAddr(exit)})
	dns.AddMX("doctor.test.", 10, "mx.doctor.test.")
	dns.AddA("mx.doctor.test.", mail.Host())
	dns.AddMX("sender.test.", 10, "mx.sender.test.")
	dns.AddA("out.sender.test.", exit)
	dns.AddRR(dnstest.RR(t, "62.0.0.127.in-addr.arpa. 60 IN PTR out.sender.test."))
	return proxy, []string{"--dns", dns.Addr, "--smtp-port", fmt.Sprint(mail.Port()), "--allow-private-mx",
		"--hello-name", "out.sender.test", "--from-email", "verify@sender.test", "--smtp-timeout", "5s", "--target", "doctor.test"}
}

func TestDoctorCommand(t *testing.T) {
	proxy, flags := doctorWorld(t)
	wrong := strings.Replace(proxy.URL(), "s3cret", "wrong", 1)
	tests := []struct {
		name   string
		args   []string
		code   int
		want   []string // substrings of stdout
		stderr string
	}{
		{"all pass", []string{"--proxy", proxy.URL()}, 0,
			[]string{"PASS  socks5       [url1] username/password accepted", "PASS  exit_ip      [url1] mx.doctor.test sees the connection coming from 127.0.0.62", "12 checks: 12 passed, 0 warnings, 0 failed"}, ""},
		{"wrong password", []string{"--proxy", wrong}, 1,
			[]string{`FAIL  socks5       [url1] the proxy refused the password of user "u"`, "0 warnings, 1 failed"}, ""},
		{"no proxy", nil, 1, []string{"FAIL  proxy"}, ""},
		{"bad config", []string{"--config", "/nonexistent.toml"}, 1, []string{"FAIL  config", "nonexistent.toml", "1 checks: 0 passed"}, ""},
		{"bad target", []string{"--target", "a b"}, 2, nil, "--target: invalid target"},
		{"extra argument", []string{"x@y.test"}, 2, nil, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := run(t, "", append(append([]string{"doctor"}, flags...), tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stdout:\n%s\nstderr: %s", code, tt.code, out, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
			if strings.Contains(out+stderr, "s3cret") || strings.Contains(out+stderr, "wrong@") {
				t.Errorf("output leaks a proxy password:\n%s%s", out, stderr)
			}
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	proxy, flags := doctorWorld(t)
	code, out, stderr := run(t, "", append(append([]string{"doctor", "--json"}, flags...), "--proxy", proxy.URL())...)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, stderr)
	}
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, out)
	}
	if !rep.OK || len(rep.Proxies) != 1 || rep.Proxies[0].ExitIP != "127.0.0.62" || rep.Proxies[0].URL != "socks5://u:***@"+proxy.Addr {
		t.Errorf("report %+v", rep)
	}
}
