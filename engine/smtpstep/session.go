package smtpstep

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
	"github.com/mailprobe/mailprobe/internal/clock"
)

// sessionResult is what one SMTP session brought back.
type sessionResult struct {
	host      string
	out       smtpprobe.Outcome
	err       error
	connected bool          // the limiter let us in and the connection was made
	proxy     *dialer.Proxy // the proxy that served the connection, if any
}

// session runs one SMTP session at the tries' current host for the
// addresses at idx, after pausing and waiting for the limiter. Neither
// wait counts against the smtp timeout.
func (s *step) session(ctx context.Context, t *tries, idx []int, pause time.Duration) sessionResult {
	r := sessionResult{host: s.rt.Hosts[t.n%len(s.rt.Hosts)].Name}
	rcpts := make([]string, len(idx))
	for k, i := range idx {
		rcpts[k] = s.addrs[i].Addr
		s.answers[i].MXTried = append(s.answers[i].MXTried, r.host)
	}
	if pause > 0 {
		start := time.Now()
		if r.err = clock.Sleep(ctx, pause); r.err != nil {
			return r
		}
		s.waited(t, idx, start)
	}
	// Resolved and checked before the limiter is asked, so an MX host we
	// refuse (a private address) costs no session of the host's budget.
	lctx, cancel := context.WithDeadline(ctx, t.deadline)
	ips, err := s.targets(lctx, r.host)
	cancel()
	if err != nil {
		r.err = err
		return r
	}
	probe := s.ca.claim()
	defer s.ca.settle(probe, &r.out)
	start := time.Now()
	// A session announces the catch-all probe while the domain's question
	// is open, even when another session carries it now: if this one is
	// postponed, its booking must cover the probe it may carry when it
	// comes back. The RCPT it does not send is given back at release.
	release, err := s.acquire(ctx, r.host, rcptsInSession(len(rcpts), probe != "" || s.ca.open()))
	s.waited(t, idx, start)
	if err != nil {
		r.err = err
		return r
	}
	defer func() { release(r.out.RcptsSent) }()
	sctx, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	conn, err := s.connect(sctx, r.host, ips)
	if err != nil {
		r.err = err
		return r
	}
	r.proxy = s.servedBy(conn)
	r.connected = true
	for _, i := range idx {
		s.answers[i].Sessions++
	}
	params := smtpprobe.Params{
		HelloName:     s.rt.HelloName,
		FromEmail:     s.rt.FromEmail,
		Recipients:    rcpts,
		CatchAllProbe: probe,
	}
	r.out, r.err = smtpprobe.Probe(sctx, conn, params, s.env.Client) // closes conn
	return r
}

// rcptsInSession is the RCPT count a session is announced to the limiter
// with: its recipients, plus the catch-all probe when it carries it.
func rcptsInSession(recipients int, catchAll bool) int {
	if catchAll {
		return recipients + 1
	}
	return recipients
}

// waited counts the time since start as our own wait, for the tries'
// deadline and for the addresses at idx.
func (s *step) waited(t *tries, idx []int, start time.Time) {
	d := time.Since(start)
	t.waited(d)
	for _, i := range idx {
		s.answers[i].Waited += d
	}
}

// acquire asks the limiter, if any. A failure other than ctx ending is
// reported like a connection failure: the address gets a retryable error
// rather than a session the limits did not allow.
func (s *step) acquire(ctx context.Context, host string, rcpts int) (func(sent int), error) {
	if s.env.Limiter == nil {
		return func(int) {}, nil
	}
	release, err := s.env.Limiter.Acquire(ctx, host, rcpts)
	if err != nil {
		return nil, fmt.Errorf("politeness limit for MX host %s: %w", host, err)
	}
	return release, nil
}

// targets resolves an MX host to the addresses that may be dialled.
// Addresses are checked before dialing, and the proxy receives an IP
// literal, so it never resolves a name we have not checked. When every
// address is refused the error wraps dialer.ErrPrivateAddress.
func (s *step) targets(ctx context.Context, host string) ([]netip.Addr, error) {
	ips, err := s.env.Resolver.LookupIP(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve MX host %s: %w", host, err)
	}
	if s.env.CheckAddr == nil {
		return ips, nil
	}
	ok := ips[:0:0]
	var refused error
	for _, ip := range ips {
		if err := s.env.CheckAddr(ip); err != nil {
			refused = fmt.Errorf("MX host %s: %w", host, err)
			continue
		}
		ok = append(ok, ip)
	}
	if len(ok) == 0 {
		return nil, refused
	}
	return ok, nil
}

// connect dials the addresses of an MX host in turn through the route's
// dialer, until one answers.
func (s *step) connect(ctx context.Context, host string, ips []netip.Addr) (net.Conn, error) {
	var lastErr error
	for _, ip := range ips {
		target := net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(s.rt.Port))
		conn, err := s.rt.Dialer.DialContext(ctx, "tcp", target)
		if err == nil {
			return conn, nil
		}
		lastErr = fmt.Errorf("connect to MX host %s: %w", host, err)
	}
	return nil, lastErr
}

// servedBy returns the proxy conn goes through: a rotation's choice is
// known only once it connected.
func (s *step) servedBy(conn net.Conn) *dialer.Proxy {
	if pc, ok := conn.(*dialer.Conn); ok && s.rt.Rotating {
		p := pc.Proxy()
		return &p
	}
	return s.rt.Proxy
}
