package mta

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const postfixMaster = "/usr/lib/postfix/sbin/master"

// Postfix configures one Postfix instance: virtual mailbox domains whose
// recipients are checked at RCPT time, with the restrictions common
// installations use. The zero value of each field leaves it out.
type Postfix struct {
	// Hostname is myhostname, in the banner; "mx.<first domain>" when
	// empty.
	Hostname string
	// Domains are the virtual mailbox domains.
	Domains []string
	// Mailboxes are the known addresses; "@domain" accepts every local
	// part of domain (a catch-all).
	Mailboxes []string
	// RecipientAccess and SenderAccess are check_recipient_access and
	// check_sender_access tables: an address, domain or "user@" to an
	// action such as "552 5.2.2 Mailbox full". Postfix words the reply
	// itself ("<a@b>: Recipient address rejected: Mailbox full").
	RecipientAccess, SenderAccess map[string]string
	// RejectNonFQDNSender adds reject_non_fqdn_sender, which refuses a
	// MAIL FROM such as hello@localhost (Reacher's default).
	RejectNonFQDNSender bool
	// HeloRestrictions are smtpd_helo_restrictions, e.g.
	// reject_non_fqdn_helo_hostname; they make EHLO required.
	HeloRestrictions []string
	// Policy is a policy server (postgrey) asked after the recipient is
	// known to exist, as check_policy_service inet:Policy.
	Policy netip.AddrPort
	// Params are further main.cf parameters; they win over the ones this
	// package writes (e.g. smtpd_recipient_limit,
	// smtpd_client_connection_rate_limit).
	Params map[string]string
}

// PostfixServer is a running Postfix instance.
type PostfixServer struct {
	// Addr is where smtpd listens.
	Addr netip.AddrPort
	// Hostname is myhostname.
	Hostname string
	dir      string
	proc     *proc
}

// StartPostfix writes the configuration of an instance under a temporary
// directory, starts it on an address of lb and stops it in t.Cleanup.
func StartPostfix(t testing.TB, lb *Loopback, cfg Postfix) *PostfixServer {
	t.Helper()
	Need(t, "postfix")
	if cfg.Hostname == "" && len(cfg.Domains) > 0 {
		cfg.Hostname = "mx." + cfg.Domains[0]
	}
	s := &PostfixServer{Addr: lb.Endpoint(), Hostname: cfg.Hostname, dir: serverDir(t, "postfix")}
	conf := filepath.Join(s.dir, "conf")
	for _, d := range []string{conf, filepath.Join(s.dir, "queue"), filepath.Join(s.dir, "data")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("mta: %v", err)
		}
	}
	chown(t, filepath.Join(s.dir, "data"), "postfix")
	writeFile(t, filepath.Join(conf, "main.cf"), s.mainCF(conf, cfg))
	s.writeMaps(t, conf, cfg)
	writeFile(t, filepath.Join(conf, "master.cf"), fmt.Sprintf(postfixMasterCF, s.Addr))
	// postfix check creates the queue directories with their owners.
	run(t, "postfix", "-c", conf, "check")
	s.proc = spawn(t, "postfix", s.dir, spawnOptions{dir: s.dir}, postfixMaster, "-c", conf)
	s.proc.waitListening(t, s.Addr)
	return s
}

// writeMaps writes and compiles the lookup tables.
func (s *PostfixServer) writeMaps(t testing.TB, conf string, cfg Postfix) {
	t.Helper()
	tables := map[string]map[string]string{
		"vmailbox":         {},
		"recipient_access": cfg.RecipientAccess,
		"sender_access":    cfg.SenderAccess,
	}
	for _, m := range cfg.Mailboxes {
		tables["vmailbox"][m] = "mailbox/"
	}
	for name, entries := range tables {
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(entries)) {
			fmt.Fprintf(&b, "%s %s\n", k, entries[k])
		}
		path := filepath.Join(conf, name)
		writeFile(t, path, b.String())
		run(t, "postmap", "-c", conf, "hash:"+path)
	}
}

func (s *PostfixServer) mainCF(conf string, cfg Postfix) string {
	rcpt := []string{}
	if cfg.RejectNonFQDNSender {
		rcpt = append(rcpt, "reject_non_fqdn_sender")
	}
	if len(cfg.SenderAccess) > 0 {
		rcpt = append(rcpt, "check_sender_access hash:"+filepath.Join(conf, "sender_access"))
	}
	rcpt = append(rcpt, "reject_unauth_destination")
	if len(cfg.RecipientAccess) > 0 {
		rcpt = append(rcpt, "check_recipient_access hash:"+filepath.Join(conf, "recipient_access"))
	}
	rcpt = append(rcpt, "reject_unlisted_recipient")
	if cfg.Policy.IsValid() {
		rcpt = append(rcpt, "check_policy_service inet:"+cfg.Policy.String())
	}
	rcpt = append(rcpt, "permit")
	p := map[string]string{
		"compatibility_level":   "3.6",
		"queue_directory":       filepath.Join(s.dir, "queue"),
		"data_directory":        filepath.Join(s.dir, "data"),
		"maillog_file":          s.logPath(),
		"maillog_file_prefixes": s.dir,
		"inet_interfaces":       "loopback-only",
		"inet_protocols":        "ipv4",
		"myhostname":            cfg.Hostname,
		"myorigin":              "$myhostname",
		"mydestination":         "",
		// The proxy connects from another address of the block, so it
		// is an outside client, subject to every restriction.
		"mynetworks":                   "127.0.0.1/32",
		"relay_domains":                "",
		"alias_maps":                   "",
		"alias_database":               "",
		"local_recipient_maps":         "",
		"virtual_mailbox_domains":      strings.Join(cfg.Domains, " "),
		"virtual_mailbox_maps":         "hash:" + filepath.Join(conf, "vmailbox"),
		"virtual_transport":            "discard:",
		"smtpd_banner":                 "$myhostname ESMTP Postfix",
		"smtpd_relay_restrictions":     "permit_mynetworks, reject_unauth_destination",
		"smtpd_recipient_restrictions": strings.Join(rcpt, ", "),
		// No reverse lookup of the client through the system resolver:
		// test traffic stays on loopback.
		"smtpd_peername_lookup": "no",
		"biff":                  "no",
		"append_dot_mydomain":   "no",
		"readme_directory":      "no",
	}
	if len(cfg.HeloRestrictions) > 0 {
		p["smtpd_helo_required"] = "yes"
		p["smtpd_helo_restrictions"] = strings.Join(cfg.HeloRestrictions, ", ")
	}
	maps.Copy(p, cfg.Params)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		fmt.Fprintf(&b, "%s = %s\n", k, p[k])
	}
	return b.String()
}

// postfixMasterCF runs smtpd on one address (inet_interfaces cannot name
// a 127.a.b.c address on every machine; a service address can) and the
// few daemons an instance that never delivers needs.
const postfixMasterCF = `%s inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
`

func (s *PostfixServer) logPath() string { return filepath.Join(s.dir, "maillog") }

// Log returns the instance's mail log so far. Postfix's daemons log
// through postlogd, which writes each line after the fact: a line sent
// with postlog after theirs marks where the log has caught up.
func (s *PostfixServer) Log() string {
	mark := "mta-log-mark-" + rand.Text()
	if exec.Command("postlog", "-c", filepath.Join(s.dir, "conf"), "-t", "mta", mark).Run() == nil {
		for deadline := time.Now().Add(logCatchUp); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, _ := os.ReadFile(s.logPath()); bytes.Contains(b, []byte(mark)) {
				return string(b)
			}
		}
	}
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

// logCatchUp bounds the wait for postlogd to write the lines sent to it.
const logCatchUp = 5 * time.Second

var postfixConnect = regexp.MustCompile(`smtpd\[\d+\]: connect from [^\[]*\[([0-9a-fA-F.:]+)\]`)

// Clients returns the address of every client that connected, in order.
func (s *PostfixServer) Clients() []string {
	var ips []string
	for _, m := range postfixConnect.FindAllStringSubmatch(s.Log(), -1) {
		ips = append(ips, m[1])
	}
	return ips
}

// Rejects returns the RCPT rejections logged for recipient rcpt (every
// one when rcpt is ""), e.g. "450 4.2.0 <a@b>: Recipient address
// rejected: Greylisted, ...".
func (s *PostfixServer) Rejects(rcpt string) []string {
	var out []string
	for _, line := range strings.Split(s.Log(), "\n") {
		_, r, ok := strings.Cut(line, "reject: RCPT from ")
		if !ok || (rcpt != "" && !strings.Contains(r, "to=<"+rcpt+">")) {
			continue
		}
		if _, r, ok = strings.Cut(r, "]: "); ok {
			reply, _, _ := strings.Cut(r, "; from=<")
			out = append(out, reply)
		}
	}
	return out
}
