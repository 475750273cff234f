// Package sockstest runs a real SOCKS5 server (github.com/armon/go-socks5)
// on 127.0.0.1 for tests, with optional RFC 1929 username/password
// authentication, a record of the connections it forwarded, and switches
// for the failure modes the dialer and engine must handle.
package sockstest

import (
	"context"
	"io"
	"log"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	socks5 "github.com/armon/go-socks5"
)

// Options configures a Server. The zero value is an open proxy (no
// authentication) that connects from the default source address.
type Options struct {
	// User and Pass, when User is set, make the proxy require RFC 1929
	// username/password authentication with exactly these credentials.
	User, Pass string
	// SourceIP, when valid, is the local address the proxy binds its
	// outgoing connections to (e.g. 127.0.0.9), so a test server can
	// check that every connection it gets came through the proxy.
	SourceIP netip.Addr
	// Blackhole makes the server accept TCP connections and never send a
	// byte, to test handshake deadlines.
	Blackhole bool
	// Deny, when set, is asked about every CONNECT target; true makes the
	// proxy answer "connection not allowed by ruleset" (RFC 1928 §6, X'02').
	Deny func(target netip.AddrPort) bool
	// WrapTarget, when set, wraps every outgoing connection the proxy
	// opens, e.g. to watch the conversation it relays.
	WrapTarget func(target string, c net.Conn) net.Conn
}

// Server is a running SOCKS5 proxy. Start stops it in t.Cleanup.
type Server struct {
	// Addr is the listening address, "127.0.0.1:port".
	Addr string
	// Host and Port split Addr.
	Host string
	Port int
	// User and Pass are the credentials the proxy requires, if any.
	User, Pass string

	opts Options
	srv  *socks5.Server
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	down     bool
	conns    map[net.Conn]struct{}
	accepted int
	targets  []string
}

// Start starts a SOCKS5 server on 127.0.0.1:0 and registers its shutdown
// with t.Cleanup. It fails the test if the server cannot start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sockstest: listen: %v", err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	s := &Server{
		Addr:  ap.String(),
		Host:  ap.Addr().String(),
		Port:  int(ap.Port()),
		User:  opts.User,
		Pass:  opts.Pass,
		opts:  opts,
		ln:    ln,
		conns: make(map[net.Conn]struct{}),
	}
	conf := &socks5.Config{
		Logger: log.New(io.Discard, "", 0),
		Dial:   s.dial,
		Rules:  rules{deny: opts.Deny},
	}
	if opts.User != "" {
		conf.Credentials = socks5.StaticCredentials{opts.User: opts.Pass}
	}
	if s.srv, err = socks5.New(conf); err != nil {
		ln.Close()
		t.Fatalf("sockstest: new server: %v", err)
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// URL returns the proxy's URL with percent-encoded credentials, e.g.
// socks5://user:pass@127.0.0.1:port.
func (s *Server) URL() string {
	u := url.URL{Scheme: "socks5", Host: s.Addr}
	if s.User != "" {
		u.User = url.UserPassword(s.User, s.Pass)
	}
	return u.String()
}

// Connections returns how many CONNECT requests the proxy forwarded, i.e.
// how many outgoing connections it opened successfully.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.targets)
}

// Targets returns the addresses the proxy connected to, in order.
func (s *Server) Targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.targets...)
}

// Accepted returns how many client connections the proxy served (it does
// not count those reset while down), e.g. to check that a client did not
// retry after an authentication failure.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// SetDown switches the "proxy down" mode. While down, the server resets
// every new client connection as soon as it is accepted, as a crashed
// proxy behind a load balancer would; clients see the connection reset
// before any SOCKS5 byte. Tunnels already established are left alone.
// (The listener stays open rather than refusing connections so that its
// port cannot be taken by someone else in the meantime.)
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			continue
		}
		s.wg.Add(1)
		go s.handle(c)
	}
}

// track registers c, or resets it and returns false when the server is
// down or closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.down {
		if tc, ok := c.(*net.TCPConn); ok {
			// Linger 0 makes Close send RST instead of FIN.
			_ = tc.SetLinger(0)
		}
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	s.accepted++
	return true
}

func (s *Server) handle(c net.Conn) {
	defer s.wg.Done()
	if s.opts.Blackhole {
		// Read and drop whatever the client sends until it or Cleanup
		// closes the connection.
		_, _ = io.Copy(io.Discard, c)
	} else {
		_ = s.srv.ServeConn(c)
	}
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// dial opens the proxy's outgoing connection, from SourceIP when set.
func (s *Server) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	// go-socks5 passes a background context; bound the connect anyway so
	// a test aimed at an unroutable address cannot hang its cleanup.
	d := net.Dialer{Timeout: 10 * time.Second}
	if s.opts.SourceIP.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: s.opts.SourceIP.AsSlice()}
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.targets = append(s.targets, addr)
	s.mu.Unlock()
	if s.opts.WrapTarget != nil {
		c = s.opts.WrapTarget(addr, c)
	}
	return c, nil
}

// close stops the listener, closes every client connection (which ends
// the tunnels behind them) and waits for all goroutines.
func (s *Server) close() {
	s.mu.Lock()
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// rules implements socks5.RuleSet for Options.Deny.
type rules struct {
	deny func(netip.AddrPort) bool
}

// Allow permits every CONNECT unless deny says otherwise. BIND and UDP
// ASSOCIATE are refused: tests need only CONNECT.
func (r rules) Allow(ctx context.Context, req *socks5.Request) (context.Context, bool) {
	if req.Command != socks5.ConnectCommand {
		return ctx, false
	}
	if r.deny == nil {
		return ctx, true
	}
	ip, ok := netip.AddrFromSlice(req.DestAddr.IP)
	if !ok {
		return ctx, false
	}
	return ctx, !r.deny(netip.AddrPortFrom(ip.Unmap(), uint16(req.DestAddr.Port)))
}
