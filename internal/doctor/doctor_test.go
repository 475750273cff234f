package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

const (
	proxyExit = "127.0.0.61" // the test proxy's source address
	hello     = "probe.doctor.test"
	target    = "doctor.test"
	password  = "p@ss:w%rd"
)

// world is a loopback internet: a DNS server, an MX that shows the
// client's address and talks only to the proxy's exit IP, and a proxy.
type world struct {
	dns   *dnstest.Server
	mail  *smtptest.Server
	proxy *sockstest.Server
}

func newWorld(t *testing.T, mail smtptest.Options) *world {
	t.Helper()
	w := &world{dns: dnstest.Start(t, nil)}
	mail.RevealClient, mail.Source = true, proxyExit
	w.mail = smtptest.Start(t, mail)
	w.proxy = sockstest.Start(t, sockstest.Options{User: "alice", Pass: password, SourceIP: netip.MustParseAddr(proxyExit)})
	w.dns.AddMX(target+".", 10, "mx."+target+".")
	w.dns.AddA("mx."+target+".", w.mail.Host())
	w.dns.AddMX("sender.test.", 10, "mx.sender.test.")
	w.dns.AddA(hello+".", proxyExit)
	w.dns.AddRR(dnstest.RR(t, "61.0.0.127.in-addr.arpa. 60 IN PTR "+hello+"."))
	return w
}

// proxy returns the world's proxy as configured, with id.
func (w *world) proxyConf(t *testing.T, id string) dialer.Proxy {
	t.Helper()
	p, err := dialer.ParseProxyURL(w.proxy.URL())
	if err != nil {
		t.Fatal(err)
	}
	p.ID = id
	return p
}

func (w *world) config(t *testing.T, proxies ...dialer.Proxy) Config {
	t.Helper()
	res, err := mx.New(mx.Config{Servers: []string{w.dns.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Resolver: res, DNSServers: []string{w.dns.Addr}, Proxies: proxies, AllowPrivateMX: true,
		HelloName: hello, FromEmail: "verify@sender.test", Port: w.mail.Port(), Timeout: 5 * time.Second,
	}
}

func run(t *testing.T, cfg Config, tgt string) Report {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := d.Run(context.Background(), tgt)
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), password) || strings.Contains(string(b), "p%40ss") {
		t.Errorf("report leaks the proxy password: %s", b)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	return r
}

// statuses maps "name" or "name[proxy]" to its status; a check appearing
// twice keeps the worst.
func statuses(r Report) map[string]Status {
	m := map[string]Status{}
	rank := map[Status]int{Pass: 0, Warn: 1, Fail: 2}
	for _, c := range r.Checks {
		k := c.Name
		if c.Proxy != "" {
			k += "[" + c.Proxy + "]"
		}
		if old, ok := m[k]; !ok || rank[c.Status] > rank[old] {
			m[k] = c.Status
		}
	}
	return m
}

func find(t *testing.T, r Report, name, proxy string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name && c.Proxy == proxy {
			return c
		}
	}
	t.Fatalf("no %s check for proxy %q in %+v", name, proxy, r.Checks)
	return Check{}
}

func TestAllPass(t *testing.T) {
	w := newWorld(t, smtptest.Options{Pipelining: true})
	r := run(t, w.config(t, w.proxyConf(t, "eu-1")), target)
	want := []string{"config", "dns", "target", "hello_name", "from_email",
		"tcp[eu-1]", "socks5[eu-1]", "connect[eu-1]", "banner[eu-1]", "ehlo[eu-1]", "exit_ip[eu-1]", "reverse_dns[eu-1]"}
	got := statuses(r)
	for _, k := range want {
		if got[k] != Pass {
			t.Errorf("%s = %q, want pass", k, got[k])
		}
	}
	if len(r.Checks) != len(want) || !r.OK {
		t.Errorf("got %d checks, ok %v; want %d, true", len(r.Checks), r.OK, len(want))
	}
	pr := r.Proxies[0]
	if pr.ID != "eu-1" || pr.ExitIP != proxyExit || !pr.OK || pr.Banner != smtptest.DefaultBanner {
		t.Errorf("proxy report %+v", pr)
	}
	if strings.Join(pr.Extensions, ",") != "8BITMIME,ENHANCEDSTATUSCODES,HELP,PIPELINING,SIZE 35882577" {
		t.Errorf("extensions %q", pr.Extensions)
	}
	if r.Target.Host != "mx."+target || r.Target.Addr != w.mail.Addr() {
		t.Errorf("target %+v, want mx.%s at %s", r.Target, target, w.mail.Addr())
	}
	// EHLO and QUIT only: the doctor never asks about a mailbox.
	for _, cmd := range w.mail.Commands() {
		if v := strings.Fields(cmd)[0]; v != "EHLO" && v != "QUIT" {
			t.Errorf("doctor sent %q", cmd)
		}
	}
	if w.mail.Refused() != 0 || w.mail.Sessions() != 1 {
		t.Errorf("mail server: %d sessions, %d direct connections refused; want 1, 0", w.mail.Sessions(), w.mail.Refused())
	}
}

func TestProxyFailures(t *testing.T) {
	w := newWorld(t, smtptest.Options{})
	good := w.proxyConf(t, "good")
	wrong := good
	wrong.ID, wrong.Password = "wrong-pass", "not-"+password
	anon := good
	anon.ID, anon.Username, anon.Password = "no-creds", "", ""
	dead := dialer.Proxy{ID: "dead", Host: "127.0.0.1", Port: closedPort(t)}
	deny := sockstest.Start(t, sockstest.Options{Deny: func(netip.AddrPort) bool { return true }})
	denied, _ := dialer.ParseProxyURL(deny.URL())
	denied.ID = "port25-blocked"
	open := sockstest.Start(t, sockstest.Options{SourceIP: netip.MustParseAddr(proxyExit)})
	opened, _ := dialer.ParseProxyURL(open.URL())
	opened.ID = "open"

	r := run(t, w.config(t, good, wrong, anon, dead, denied, opened), target)
	tests := []struct {
		proxy, check string
		status       Status
		kind         string
		reason       string
	}{
		{"good", "reverse_dns", Pass, "", ""},
		{"wrong-pass", "socks5", Fail, "proxy authentication failed", `refused the password of user "alice" (RFC 1929 status 0x01)`},
		{"no-creds", "socks5", Fail, "proxy authentication failed", "requires authentication and no username"},
		{"dead", "tcp", Fail, "proxy unreachable", "connection refused"},
		{"port25-blocked", "connect", Fail, "connection not allowed by proxy", "port 25 is blocked at the proxy"},
		{"open", "socks5", Warn, "", "requires no authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.proxy, func(t *testing.T) {
			c := find(t, r, tt.check, tt.proxy)
			if c.Status != tt.status || c.Kind != tt.kind || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("got %s %q %q, want %s %q containing %q", c.Status, c.Kind, c.Reason, tt.status, tt.kind, tt.reason)
			}
			if c.Status != Pass && c.Fix == "" {
				t.Error("no fix given")
			}
		})
	}
	if r.OK {
		t.Error("report OK with failing proxies")
	}
	if got := find(t, r, "socks5", "port25-blocked"); got.Status != Pass {
		t.Errorf("negotiation before a refused CONNECT: %s, want pass", got.Status)
	}
	for _, p := range r.Proxies {
		if want := p.ID == "good" || p.ID == "open"; p.OK != want {
			t.Errorf("proxy %s: OK %v, want %v", p.ID, p.OK, want)
		}
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestNames(t *testing.T) {
	w := newWorld(t, smtptest.Options{})
	w.dns.AddMX("nullmx.test.", 0, ".")
	w.dns.AddA("implicit.test.", "192.0.2.1")
	tests := []struct {
		hello, from string
		check       string
		status      Status
		reason      string
	}{
		{"localhost", "", "hello_name", Warn, "not a fully-qualified domain name"},
		{"[192.0.2.1]", "", "hello_name", Warn, "address literal"},
		{"bad_name!.test", "", "hello_name", Warn, "not a valid host name"},
		{"", "hello@localhost", "from_email", Fail, "not fully qualified"},
		{"", "not an address", "from_email", Fail, "not a valid address"},
		{"", "a@nowhere.test", "from_email", Fail, "does not resolve"},
		{"", "a@nullmx.test", "from_email", Fail, "null MX"},
		{"", "a@implicit.test", "from_email", Pass, "its address acts as one"},
		{"", "a@sender.test", "from_email", Pass, "has an MX record (mx.sender.test)"},
	}
	for _, tt := range tests {
		t.Run(tt.check+" "+tt.hello+tt.from, func(t *testing.T) {
			cfg := w.config(t)
			cfg.HelloName = or(tt.hello, hello)
			cfg.FromEmail = or(tt.from, cfg.FromEmail)
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var c Check
			if tt.check == "hello_name" {
				c = d.helloCheck()
			} else {
				c = d.fromCheck(context.Background())
			}
			if c.Status != tt.status || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("got %s %q, want %s containing %q", c.Status, c.Reason, tt.status, tt.reason)
			}
		})
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestReverseDNS(t *testing.T) {
	w := newWorld(t, smtptest.Options{})
	w.dns.AddRR(dnstest.RR(t, "62.0.0.127.in-addr.arpa. 60 IN PTR unconfirmed.test."))
	tests := []struct {
		ip, hello string
		status    Status
		reason    string
		fix       string
	}{
		{proxyExit, hello, Pass, "the hello_name", ""},
		{proxyExit, "other.test", Warn, "but hello_name is other.test", "set hello_name to " + hello},
		{"127.0.0.62", hello, Warn, "not forward-confirmed", "add an A record unconfirmed.test → 127.0.0.62"},
		{"127.0.0.63", hello, Warn, "has no reverse DNS", "set the PTR of 127.0.0.63"},
	}
	for _, tt := range tests {
		t.Run(tt.ip+" "+tt.hello, func(t *testing.T) {
			cfg := w.config(t)
			cfg.HelloName = tt.hello
			d, _ := New(cfg)
			c := d.reverseCheck(context.Background(), "p", netip.MustParseAddr(tt.ip))
			if c.Status != tt.status || !strings.Contains(c.Reason, tt.reason) || !strings.Contains(c.Fix, tt.fix) {
				t.Errorf("got %s %q fix %q; want %s, %q, fix %q", c.Status, c.Reason, c.Fix, tt.status, tt.reason, tt.fix)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	w := newWorld(t, smtptest.Options{})
	w.dns.AddMX("nullmx.test.", 0, ".")
	w.dns.AddMX("private.test.", 10, "mx.private.test.")
	w.dns.AddA("mx.private.test.", "10.1.2.3")
	deadDNS := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	tests := []struct {
		name, target string
		private      bool
		dns          string
		check        string
		status       Status
		reason       string
	}{
		{"MX host", "mx." + target, true, "", "target", Pass, "mx.doctor.test at " + w.mail.Addr()},
		{"IP literal", w.mail.Host(), true, "", "target", Pass, "127.0.0.1 at " + w.mail.Addr()},
		{"IP literal asks the resolver all the same", w.mail.Host(), true, "", "dns", Pass, "answered the MX query for gmail.com"},
		{"IP literal, resolver down", w.mail.Host(), true, deadDNS, "dns", Fail, "did not answer the MX query for gmail.com"},
		{"no such domain", "nowhere.test", true, "", "target", Fail, "has no mail server"},
		{"null MX", "nullmx.test", true, "", "target", Fail, "accepts no mail"},
		{"private address", "private.test", false, "", "target", Fail, "SSRF guard"},
		{"resolver down", target, true, deadDNS, "dns", Fail, "did not answer the MX query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.config(t, w.proxyConf(t, "p"))
			cfg.AllowPrivateMX = tt.private
			if tt.dns != "" {
				res, _ := mx.New(mx.Config{Servers: []string{tt.dns}, Timeout: 200 * time.Millisecond, Attempts: 1})
				cfg.Resolver, cfg.DNSServers = res, []string{tt.dns}
			}
			r := run(t, cfg, tt.target)
			c := find(t, r, tt.check, "")
			if c.Status != tt.status || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("got %s %q, want %s containing %q", c.Status, c.Reason, tt.status, tt.reason)
			}
			if tt.status == Fail {
				if r.OK {
					t.Error("report OK")
				}
				if got := statuses(r)["connect[p]"]; got != "" && tt.check == "target" {
					t.Errorf("connect ran (%s) without a target", got)
				}
			}
		})
	}
}

func TestRefusedSession(t *testing.T) {
	tests := []struct {
		name  string
		opts  smtptest.Options
		check string
		kind  string
		fix   string
	}{
		{"blocklisted banner", smtptest.Options{Banner: "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"}, "banner", "Blocked", "blocklists"},
		{"silent server", smtptest.Options{NoBanner: true}, "banner", "", "went silent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.opts)
			cfg := w.config(t, w.proxyConf(t, "p"))
			cfg.Timeout = time.Second
			r := run(t, cfg, target)
			c := find(t, r, tt.check, "p")
			if c.Status != Fail || c.Kind != tt.kind || !strings.Contains(c.Fix, tt.fix) {
				t.Errorf("got %s %q fix %q, want fail %q with %q", c.Status, c.Kind, c.Fix, tt.kind, tt.fix)
			}
		})
	}
}

// TestNewNamesProxies: a proxy without an id is named by its position in
// the report, and the caller's proxies are left as they were.
func TestNewNamesProxies(t *testing.T) {
	res, err := mx.New(mx.Config{Servers: []string{"127.0.0.1:53"}})
	if err != nil {
		t.Fatal(err)
	}
	proxies := []dialer.Proxy{{ID: "pool", Host: "127.0.0.1", Port: 1080}, {Host: "127.0.0.1", Port: 1081}}
	d, err := New(Config{Resolver: res, Proxies: proxies})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{d.cfg.Proxies[0].ID, d.cfg.Proxies[1].ID}; got[0] != "pool" || got[1] != "proxy-1" {
		t.Errorf("ids %q, want [pool proxy-1]", got)
	}
	if proxies[1].ID != "" {
		t.Errorf("New named the caller's proxy %q", proxies[1].ID)
	}
}

func TestNoProxy(t *testing.T) {
	w := newWorld(t, smtptest.Options{})
	w.mail.Update(func(o *smtptest.Options) { o.Source = "" })
	cfg := w.config(t)
	r := run(t, cfg, target)
	if c := find(t, r, "proxy", ""); c.Status != Fail || r.OK {
		t.Errorf("no proxy: %s, ok %v", c.Status, r.OK)
	}
	cfg.AllowDirect = true
	r = run(t, cfg, target)
	if c := find(t, r, "connect", "direct"); c.Status != Pass {
		t.Errorf("direct connect: %+v", c)
	}
	if c := find(t, r, "exit_ip", "direct"); c.Status != Pass || !strings.Contains(c.Reason, "127.0.0.1") {
		t.Errorf("direct exit IP: %+v", c)
	}
}

func TestLiteral(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mx.google.com at your service, [203.0.113.5]", "203.0.113.5"},
		{"BL02.outlook.com Hello [203.0.113.6]", "203.0.113.6"},
		{"mx Hello [192.0.2.1] [IPv6:2001:db8::1]", "2001:db8::1"},
		{"mx Hello [not-an-ip]", ""},
		{"mx ESMTP Postfix", ""},
		{"broken [203.0.113.5", ""},
	}
	for _, tt := range tests {
		ip, _ := literal(tt.in)
		got := ""
		if ip.IsValid() {
			got = ip.String()
		}
		if got != tt.want {
			t.Errorf("literal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriteText(t *testing.T) {
	r := finish(Report{Checks: []Check{
		{Name: CheckConfig, Status: Pass, Reason: "configuration loaded"},
		{Name: CheckSOCKS5, Proxy: "eu-1", Status: Fail, Reason: "refused", Fix: "check it"},
		{Name: CheckExitIP, Proxy: "eu-1", Status: Warn, Reason: "unknown", Fix: "ask"},
	}})
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "PASS  config       configuration loaded\n" +
		"FAIL  socks5       [eu-1] refused; fix: check it\n" +
		"WARN  exit_ip      [eu-1] unknown; fix: ask\n" +
		"3 checks: 1 passed, 1 warning, 1 failed\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if r.OK {
		t.Error("OK with a failure")
	}
}
