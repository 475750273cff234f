package proxies

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/realsocks"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// TestProbeThroughRealProxies runs the engine's full probe (MX lookup,
// banner, EHLO, MAIL FROM, RCPT TO, catch-all probe, QUIT) through dante
// and microsocks, authenticated, and checks that every SMTP connection
// reached the mail server from the proxy's exit address, none directly.
func TestProbeThroughRealProxies(t *testing.T) {
	w := newWorld(t)
	mxs := map[netip.Addr]*smtptest.Server{danteExit: mail(t, danteExit), microsocksExit: mail(t, microsocksExit)}
	// dante runs the README's configuration: CONNECT to the SMTP port only.
	for _, p := range proxies(t, realsocks.DanteOptions{Conf: readmeDanteConf(t, mxs[danteExit].Port())}) {
		t.Run(p.Name, func(t *testing.T) {
			mx := mxs[p.External]
			rs := check(t, w.flags(mx.Port()), p.URL(), mailbox, "nobody@"+domain)
			if len(rs) != 2 {
				t.Fatalf("got %d results, want 2", len(rs))
			}
			if rs[0].IsReachable != "safe" || !rs[0].SMTP.IsDeliverable {
				t.Errorf("%s: %s (%+v), want safe", rs[0].Input, rs[0].IsReachable, rs[0].SMTP.Error)
			}
			if rs[1].IsReachable != "invalid" {
				t.Errorf("%s: %s (%+v), want invalid", rs[1].Input, rs[1].IsReachable, rs[1].SMTP.Error)
			}
			if mx.Sessions() == 0 || mx.Refused() != 0 {
				t.Errorf("mail server: %d sessions from %s, %d connections from elsewhere; want some and none",
					mx.Sessions(), p.External, mx.Refused())
			}
			var rcpts []string
			for _, c := range mx.Commands() {
				if strings.HasPrefix(c, "RCPT") {
					rcpts = append(rcpts, c)
				}
			}
			if len(rcpts) < 2 {
				t.Errorf("RCPT commands %q, want both addresses asked about", rcpts)
			}
		})
	}
}
