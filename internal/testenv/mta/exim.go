package mta

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Exim configures one Exim instance whose RCPT ACL checks recipients with
// `verify = recipient`, as Debian's and most hand-written configurations
// do: an unknown user gets "550 Unrouteable address".
type Exim struct {
	// Hostname is primary_hostname; "mx.<first domain>" when empty.
	Hostname string
	// Domains are the local domains.
	Domains []string
	// Users are the known addresses, local@domain.
	Users []string
	// CatchAll lists domains that accept every local part.
	CatchAll []string
}

// EximServer is a running Exim daemon.
type EximServer struct {
	// Addr is where it listens.
	Addr netip.AddrPort
	dir  string
	proc *proc
}

// StartExim writes the configuration, starts the daemon on an address of
// lb and stops it in t.Cleanup.
func StartExim(t testing.TB, lb *Loopback, cfg Exim) *EximServer {
	t.Helper()
	Need(t, "exim")
	if cfg.Hostname == "" && len(cfg.Domains) > 0 {
		cfg.Hostname = "mx." + cfg.Domains[0]
	}
	s := &EximServer{Addr: lb.Endpoint(), dir: serverDir(t, "exim")}
	for _, d := range []string{"spool", "log"} {
		p := filepath.Join(s.dir, d)
		if err := os.Mkdir(p, 0o750); err != nil {
			t.Fatalf("mta: %v", err)
		}
		chown(t, p, eximUser)
	}
	users := filepath.Join(s.dir, "users")
	writeFile(t, users, strings.Join(cfg.Users, "\n")+"\n")
	conf := filepath.Join(s.dir, "exim.conf")
	writeFile(t, conf, fmt.Sprintf(eximConf,
		cfg.Hostname, listOf(cfg.Domains), listOf(cfg.CatchAll), s.Addr.Addr(), s.Addr.Port(),
		eximUser, eximUser, s.dir, s.dir, users, eximUser))
	// -bdf: a daemon in the foreground; -oX: its port.
	s.proc = spawn(t, "exim", s.dir, spawnOptions{dir: s.dir},
		eximBinary(), "-C", conf, "-bdf", "-oX", strconv.Itoa(int(s.Addr.Port())))
	s.proc.waitListening(t, s.Addr)
	return s
}

// eximUser is the user Debian's exim4 binary is built to run as; the
// package scripts (or scripts/apt-deps.sh) create it.
const eximUser = "Debian-exim"

// listOf writes an Exim list; an empty list is a name no domain has.
func listOf(items []string) string {
	if len(items) == 0 {
		return "no.domain.invalid"
	}
	return strings.Join(items, " : ")
}

// eximConf: no ident or reverse lookups (test traffic stays on loopback),
// no TLS, connections logged so tests can see who connected.
const eximConf = `primary_hostname = %s
domainlist local_domains = %s
domainlist catchall_domains = %s
local_interfaces = %s
daemon_smtp_ports = %d
exim_user = %s
exim_group = %s
spool_directory = %s/spool
log_file_path = %s/log/%%slog
log_selector = +smtp_connection
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
keep_environment =
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  deny    message = relay not permitted
          !domains = +local_domains
  require verify = recipient
  accept

begin routers
catchall:
  driver = accept
  domains = +catchall_domains
  transport = devnull
known:
  driver = accept
  domains = +local_domains
  condition = ${lookup{$local_part@$domain}lsearch{%s}{yes}{no}}
  transport = devnull

begin transports
devnull:
  driver = appendfile
  file = /dev/null
  user = %s
`

func (s *EximServer) logPath() string { return filepath.Join(s.dir, "log", "mainlog") }

// Log returns the daemon's main log so far.
func (s *EximServer) Log() string {
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

var eximConnect = regexp.MustCompile(`SMTP connection from \[([0-9a-fA-F.:]+)\](?::\d+)? \(TCP/IP connection count`)

// Clients returns the address of every client that connected, in order.
func (s *EximServer) Clients() []string {
	var ips []string
	for _, m := range eximConnect.FindAllStringSubmatch(s.Log(), -1) {
		ips = append(ips, m[1])
	}
	return ips
}
