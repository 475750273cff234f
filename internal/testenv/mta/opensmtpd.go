package mta

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// OpenSMTPD configures one OpenSMTPD instance with virtual users.
type OpenSMTPD struct {
	// Hostname is the banner's host name; "mx.<first domain>" when empty.
	Hostname string
	// Domains accept only the known Users (`rcpt-to <known>`): an unknown
	// user gets "550 Invalid recipient".
	Domains []string
	// ExpandDomains route every recipient through the virtual table, as
	// the shortest configuration does: an unknown user gets "524 5.2.4
	// Mailing list expansion problem".
	ExpandDomains []string
	// Users are the known addresses, local@domain.
	Users []string
}

// OpenSMTPDServer is a running OpenSMTPD.
type OpenSMTPDServer struct {
	// Addr is where it listens.
	Addr netip.AddrPort
	dir  string
	proc *proc
}

// Fixed paths of Debian's smtpd binary. Its spool and its control socket
// (/run/smtpd.sock) are replaced by private directories in the server's
// mount namespace, so instances do not meet; the chroot directory must
// exist (scripts/apt-deps.sh creates it, as the package would).
const (
	opensmtpdSpool  = "/var/spool/smtpd"
	opensmtpdChroot = "/var/lib/opensmtpd/empty"
)

// StartOpenSMTPD writes the configuration, starts smtpd on an address of
// lb and stops it in t.Cleanup. smtpd reverse-resolves every client
// through /etc/resolv.conf, so its namespace gets one that names a DNS
// server of the test's own, which answers NXDOMAIN.
func StartOpenSMTPD(t testing.TB, lb *Loopback, cfg OpenSMTPD) *OpenSMTPDServer {
	t.Helper()
	Need(t, "opensmtpd")
	if cfg.Hostname == "" {
		cfg.Hostname = "mx." + append(cfg.Domains, cfg.ExpandDomains...)[0]
	}
	s := &OpenSMTPDServer{Addr: lb.Endpoint(), dir: serverDir(t, "opensmtpd")}
	ns := startNXDNS(t, lb.Addr())
	spool, run := filepath.Join(s.dir, "spool"), filepath.Join(s.dir, "run")
	for _, d := range []string{spool, run} {
		if err := os.Mkdir(d, 0o711); err != nil {
			t.Fatalf("mta: %v", err)
		}
	}
	resolv := filepath.Join(s.dir, "resolv.conf")
	writeFile(t, resolv, "nameserver "+ns.String()+"\noptions timeout:1 attempts:1\n")
	var users, known strings.Builder
	for _, u := range cfg.Users {
		// The virtual table maps an address to a system user; smtpd
		// checks that the user exists while it expands the recipient.
		fmt.Fprintf(&users, "%s nobody\n", u)
		fmt.Fprintf(&known, "%s\n", u)
	}
	writeFile(t, filepath.Join(s.dir, "users"), users.String())
	writeFile(t, filepath.Join(s.dir, "known"), known.String())
	conf := filepath.Join(s.dir, "smtpd.conf")
	writeFile(t, conf, s.conf(cfg))
	s.proc = spawn(t, "opensmtpd", s.dir, spawnOptions{dir: s.dir, binds: map[string]string{
		"/etc/resolv.conf": resolv, opensmtpdSpool: spool, "/run": run,
	}}, opensmtpdBinary(), "-d", "-f", conf)
	s.proc.waitListening(t, s.Addr)
	return s
}

func (s *OpenSMTPDServer) conf(cfg OpenSMTPD) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table users file:%s\ntable known file:%s\n", filepath.Join(s.dir, "users"), filepath.Join(s.dir, "known"))
	fmt.Fprintf(&b, "listen on %s port %d hostname %s\n", s.Addr.Addr(), s.Addr.Port(), cfg.Hostname)
	b.WriteString("action \"deliver\" mbox virtual <users>\n")
	if len(cfg.Domains) > 0 {
		fmt.Fprintf(&b, "match from any for domain { %s } rcpt-to <known> action \"deliver\"\n", quoted(cfg.Domains))
	}
	if len(cfg.ExpandDomains) > 0 {
		fmt.Fprintf(&b, "match from any for domain { %s } action \"deliver\"\n", quoted(cfg.ExpandDomains))
	}
	return b.String()
}

func quoted(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = `"` + it + `"`
	}
	return strings.Join(q, ", ")
}

// Log returns what smtpd printed so far (-d logs to stderr).
func (s *OpenSMTPDServer) Log() string {
	b, _ := os.ReadFile(s.proc.out)
	return string(b)
}

var opensmtpdConnect = regexp.MustCompile(`smtp connected address=([0-9a-fA-F.:]+)`)

// Clients returns the address of every client that connected, in order.
func (s *OpenSMTPDServer) Clients() []string {
	var ips []string
	for _, m := range opensmtpdConnect.FindAllStringSubmatch(s.Log(), -1) {
		ips = append(ips, m[1])
	}
	return ips
}

// startNXDNS serves DNS on ip:53, UDP and TCP, answering NXDOMAIN to every
// query, until the test ends. It returns the address.
func startNXDNS(t testing.TB, ip netip.Addr) netip.Addr {
	t.Helper()
	addr := net.JoinHostPort(ip.String(), "53")
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatalf("mta: dns: %v", err)
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		pc.Close()
		t.Fatalf("mta: dns: %v", err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeNameError)
		_ = w.WriteMsg(m)
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return ip
}
