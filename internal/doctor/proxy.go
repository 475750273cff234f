package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
)

// tcpTimeout bounds the plain TCP check of a proxy.
const tcpTimeout = 10 * time.Second

// checkProxy runs the checks of one proxy: TCP, SOCKS5, CONNECT, then the
// SMTP session through it.
func (d *Doctor) checkProxy(ctx context.Context, p dialer.Proxy, t resolved) (ProxyReport, []Check) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	pr := ProxyReport{ID: p.ID, URL: p.String()}

	tcp := d.tcpCheck(ctx, p)
	checks := []Check{tcp}
	if tcp.Status == Fail || !t.ok {
		return pr, checks
	}
	dl, err := dialer.NewSOCKS5(p)
	if err != nil {
		return pr, append(checks, Check{Name: CheckSOCKS5, Proxy: p.ID, Status: Fail,
			Reason: err.Error(), Fix: "correct the proxy's settings"})
	}
	start := time.Now()
	conn, err := dl.DialContext(ctx, "tcp", t.addr)
	took := ms(time.Since(start))
	if err != nil {
		checks = append(checks, dialFailure(p, t, err, took)...)
		return pr, checks
	}
	checks = append(checks, authCheck(p, conn), Check{Name: CheckConnect, Proxy: p.ID, Status: Pass,
		Reason: fmt.Sprintf("CONNECT to %s accepted", t.addr), DurationMS: took})
	return d.session(ctx, conn, pr, t, checks)
}

// checkDirect runs the connect and SMTP checks without a proxy.
func (d *Doctor) checkDirect(ctx context.Context, t resolved) (ProxyReport, []Check) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	const id = "direct"
	pr := ProxyReport{ID: id, URL: "direct"}
	if !t.ok {
		return pr, nil
	}
	start := time.Now()
	conn, err := dialer.Direct(tcpTimeout).DialContext(ctx, "tcp", t.addr)
	c := Check{Name: CheckConnect, Proxy: id, Status: Pass, DurationMS: ms(time.Since(start)),
		Reason: fmt.Sprintf("connected to %s without a proxy", t.addr)}
	if err != nil {
		c.Status = Fail
		c.Reason = fmt.Sprintf("cannot connect to %s: %s", t.addr, netReason(err))
		c.Fix = "outbound port 25 is probably blocked here (AWS, GCP and Azure block it by default): use a SOCKS5 proxy whose host allows it"
		return pr, []Check{c}
	}
	return d.session(ctx, conn, pr, t, []Check{c})
}

// tcpCheck opens and closes a plain TCP connection to the proxy.
func (d *Doctor) tcpCheck(ctx context.Context, p dialer.Proxy) Check {
	c := Check{Name: CheckTCP, Proxy: p.ID, Status: Pass}
	nd := net.Dialer{Timeout: tcpTimeout}
	start := time.Now()
	conn, err := nd.DialContext(ctx, "tcp", p.Addr())
	c.DurationMS = ms(time.Since(start))
	if err != nil {
		c.Status, c.Kind = Fail, dialer.ProxyUnreachable.String()
		c.Reason = fmt.Sprintf("cannot reach %s: %s", p.Addr(), netReason(err))
		c.Fix = "check that the proxy runs and listens on this host and port, and that its firewall lets mailprobe's address in"
		return c
	}
	conn.Close()
	c.Reason = "reached " + p.Addr()
	return c
}

// authCheck reports the negotiation of an established tunnel.
func authCheck(p dialer.Proxy, conn net.Conn) Check {
	c := Check{Name: CheckSOCKS5, Proxy: p.ID, Status: Pass}
	pc, ok := conn.(*dialer.Conn)
	switch {
	case ok && pc.Authenticated():
		c.Reason = fmt.Sprintf("username/password accepted for user %q (RFC 1929)", p.Username)
	case p.Username == "":
		c.Status, c.Reason = Warn, "the proxy requires no authentication: anyone who can reach it can send through its IP"
		c.Fix = "require a username and password (dante: socksmethod: username; microsocks: -u and -P) or firewall the proxy to your addresses"
	default:
		c.Status, c.Reason = Warn, "the proxy let us in without asking for the password: it is open to anyone who can reach it"
		c.Fix = "require a username and password (dante: socksmethod: username; microsocks: -u and -P)"
	}
	return c
}

// netReason is the short cause of a failed TCP connection.
func netReason(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (nothing listens there)"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to the host"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "no answer (timed out): a firewall drops the packets or the host is down"
	case errors.As(err, &dnsErr):
		return "its name does not resolve: " + dnsErr.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
