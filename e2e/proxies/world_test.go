package proxies

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/cli"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/realsocks"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// Exit addresses: each proxy connects from its own, so the mail server
// can tell proxied connections from direct ones (127.0.0.1).
var (
	danteExit      = netip.MustParseAddr("127.0.0.21")
	microsocksExit = netip.MustParseAddr("127.0.0.22")
)

const (
	domain    = "example.com"        // the domain probed, MX mx.example.com
	helloName = "mx-out.example.net" // PTR of both exit addresses
	fromEmail = "verify@example.net"
	mailbox   = "alice@example.com" // exists; others do not
)

// world is the loopback internet of a test: a DNS server with the
// domain's MX, the sender's domain and the exit addresses' reverse DNS.
type world struct {
	dns *dnstest.Server
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{dns: dnstest.Start(t, nil)}
	w.dns.AddMX(domain+".", 10, "mx."+domain+".")
	w.dns.AddA("mx."+domain+".", "127.0.0.1")
	w.dns.AddMX("example.net.", 10, "mx.example.net.")
	for _, ip := range []netip.Addr{danteExit, microsocksExit} {
		w.dns.AddA(helloName+".", ip.String())
		arpa := fmt.Sprintf("%d.0.0.127.in-addr.arpa.", ip.As4()[3])
		w.dns.AddRR(dnstest.RR(t, arpa+" 60 IN PTR "+helloName+"."))
	}
	return w
}

// mail starts an MX on 127.0.0.1 that serves only connections from exit,
// knows mailbox, and shows the client's address in its EHLO reply.
func mail(t *testing.T, exit netip.Addr) *smtptest.Server {
	t.Helper()
	return smtptest.Start(t, smtptest.Options{
		Source: exit.String(), RevealClient: true, Pipelining: true,
		Users: map[string]string{mailbox: smtptest.AcceptReply},
	})
}

// flags are the engine flags that point mailprobe at the world and port.
func (w *world) flags(port int) []string {
	return []string{"--dns", w.dns.Addr, "--smtp-port", fmt.Sprint(port), "--allow-private-mx",
		"--hello-name", helloName, "--from-email", fromEmail, "--smtp-timeout", "10s"}
}

// mailprobe runs the CLI in-process; environ holds RCH__ settings.
func mailprobe(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: environ})
	return code, out.String(), errb.String()
}

// result is the part of a check result these tests read.
type result struct {
	Input       string `json:"input"`
	IsReachable string `json:"is_reachable"`
	SMTP        struct {
		IsDeliverable bool `json:"is_deliverable"`
		Error         *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		Cause string `json:"cause"`
	} `json:"smtp"`
}

// check runs `mailprobe check` through proxyURL and decodes the results.
func check(t *testing.T, flags []string, proxyURL string, emails ...string) []result {
	t.Helper()
	args := append(append([]string{"check"}, flags...), "--proxy", proxyURL)
	// One attempt: the failures under test are not worth a retry.
	code, out, stderr := mailprobe(t, []string{"RCH__RETRIES=0"}, append(args, emails...)...)
	if code != 0 {
		t.Fatalf("mailprobe check: exit %d: %s", code, stderr)
	}
	var rs []result
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("result %q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// noSecret fails the test if s contains the proxy's password, raw or
// percent-encoded.
func noSecret(t *testing.T, s string, p *realsocks.Server) {
	t.Helper()
	if p.Pass == "" {
		return
	}
	if strings.Contains(s, p.Pass) || strings.Contains(s, strings.ReplaceAll(p.Pass, "@", "%40")) {
		t.Errorf("output leaks the proxy password:\n%s", s)
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proxies starts one authenticating proxy of each kind, connecting from
// their own exit addresses; extra options for dante (its rules) apply.
func proxies(t *testing.T, dante realsocks.DanteOptions) []*realsocks.Server {
	t.Helper()
	dante.External = danteExit
	return []*realsocks.Server{
		realsocks.StartDante(t, dante),
		realsocks.StartMicrosocks(t, realsocks.MicrosocksOptions{User: "mailprobe", Pass: "micro:p@ss%w0rd", Bind: microsocksExit}),
	}
}

// readmeDanteConf returns the danted.conf the README recommends, with
// "port = 25" replaced by smtpPort: the test's mail servers listen on
// other ports. realsocks points its logoutput, internal and external lines
// at the test's files and addresses.
func readmeDanteConf(t *testing.T, smtpPort int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const start = "```\n# /etc/danted.conf\n"
	_, rest, ok := strings.Cut(string(b), start)
	conf, _, closed := strings.Cut(rest, "```")
	if !ok || !closed || strings.Count(conf, "port = 25\n") != 1 {
		t.Fatalf("README.md has no danted.conf block with one \"port = 25\" rule")
	}
	return strings.Replace(conf, "port = 25\n", fmt.Sprintf("port = %d\n", smtpPort), 1)
}
