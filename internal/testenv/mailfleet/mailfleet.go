// Package mailfleet starts a dozen mail domains for tests of whole lists:
// one test DNS server, one SOCKS5 proxy, and an smtptest server per domain,
// every one on its own loopback address and the same port (a CLI's
// --smtp-port, a server's smtp_port, is one for all).
package mailfleet

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// Fleet is mail domains behind one test DNS server and one SOCKS5 proxy.
type Fleet struct {
	DNS     *dnstest.Server
	Proxy   *sockstest.Server
	Port    int                         // every MX listens on it
	Servers map[string]*smtptest.Server // by domain
	Emails  []string                    // every domain's addresses, in order
}

// Domain is one domain of a fleet and the local parts asked there.
type Domain struct {
	Name   string
	Opts   smtptest.Options
	Locals []string
}

// Bench is the list of issue 9's benchmark: 60 addresses on 12 domains,
// among them a tarpit (never sends a banner), a server that hangs up after
// EHLO and a greylisting one; the others mix existing, unknown and
// catch-all. At every domain alice, bob and carol exist (everyone at
// catchall.test); dave and erin do not.
func Bench() []Domain {
	five := []string{"alice", "bob", "carol", "dave", "erin"}
	users := func(d string) map[string]string {
		m := map[string]string{}
		for _, l := range five[:3] {
			m[l+"@"+d] = "250 2.1.5 OK"
		}
		return m
	}
	out := []Domain{
		{"tarpit.test", smtptest.Options{NoBanner: true}, five},
		{"hangup.test", smtptest.Options{DropAfterEHLO: true}, five},
		{"grey.test", smtptest.Options{Greylist: 1, Users: users("grey.test")}, five},
		{"catchall.test", smtptest.Options{CatchAll: true, Pipelining: true}, five},
	}
	for i := range 8 {
		d := fmt.Sprintf("mail%d.test", i)
		out = append(out, Domain{d, smtptest.Options{Pipelining: i%2 == 0, Users: users(d)}, five})
	}
	return out
}

// blocks numbers the fleets of a process.
var blocks atomic.Int32

// Start starts the fleet's servers until the test ends. Each fleet takes a
// 127.0.X.0/24 block of its own (X from 4 on), so fleets of one process do
// not meet.
func Start(t testing.TB, domains []Domain) *Fleet {
	t.Helper()
	f := &Fleet{DNS: dnstest.Start(t, nil), Proxy: sockstest.Start(t, sockstest.Options{User: "u", Pass: "p"}),
		Servers: map[string]*smtptest.Server{}}
	block := 3 + blocks.Add(1)%250
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.%d.1:0", block))
	if err != nil {
		t.Fatal(err)
	}
	f.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	for i, d := range domains {
		o := d.Opts
		o.Addr = fmt.Sprintf("127.0.%d.%d:%d", block, i+1, f.Port)
		s := smtptest.Start(t, o)
		f.Servers[d.Name] = s
		f.DNS.AddMX(d.Name+".", 10, "mx."+d.Name+".")
		f.DNS.AddA("mx."+d.Name+".", s.Host())
		for _, l := range d.Locals {
			f.Emails = append(f.Emails, l+"@"+d.Name)
		}
	}
	return f
}

// CheckArgs are `mailprobe check` and the flags that point it at the fleet.
func (f *Fleet) CheckArgs(extra ...string) []string {
	return append([]string{"check", "--dns", f.DNS.Addr, "--proxy", f.Proxy.URL(),
		"--smtp-port", fmt.Sprint(f.Port), "--allow-private-mx"}, extra...)
}

// Lines is the fleet's addresses, one per line.
func (f *Fleet) Lines() string { return strings.Join(f.Emails, "\n") + "\n" }

// Sessions is the sessions each domain's server saw, in all.
func (f *Fleet) Sessions() int {
	n := 0
	for _, s := range f.Servers {
		n += s.Sessions()
	}
	return n
}

// Verdict is the is_reachable of an address of the Bench list once every
// check is done: its server's answer, or unknown at the tarpit and at the
// server that hangs up.
func Verdict(email string) string {
	local, domain, _ := strings.Cut(email, "@")
	switch {
	case domain == "tarpit.test" || domain == "hangup.test":
		return "unknown"
	case domain == "catchall.test":
		return "risky"
	case local == "alice" || local == "bob" || local == "carol":
		return "safe"
	}
	return "invalid"
}

// Attempts is how many sessions a Bench domain's server sees when each
// domain is checked with a greylist_wait and the default retry policy:
// one; two at the greylisting server (the check and its re-ask) and at
// the tarpit and the one that hangs up (the check and the policy's one
// connection retry). The batch path opens one session per domain and
// attempt.
func Attempts(domain string) int {
	switch domain {
	case "tarpit.test", "hangup.test", "grey.test":
		return 2
	}
	return 1
}
