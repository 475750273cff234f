//go:build linux

// Package realsocks runs real SOCKS5 servers from Debian's apt, dante
// (danted) and microsocks, on loopback ports for tests, each configured by
// the test and stopped with every process it forked at cleanup. Either can
// run inside a network namespace (Netns) whose routes make every connect
// failure happen, so tests see how the real software reports each one.
//
// The binaries come from scripts/apt-deps.sh; Need skips a test loudly
// without them, or fails it under CI. dante and namespaces need root.
package realsocks

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// Server is a running proxy.
type Server struct {
	// Name is "dante" or "microsocks".
	Name string
	// Addr is where clients connect, 127.0.0.1:port: the server itself,
	// or the Forward into its namespace.
	Addr string
	Host string
	Port int
	// User and Pass are the credentials it requires; empty User: none.
	User, Pass string
	// External is the source address of its outgoing connections, as a
	// target sees them.
	External netip.Addr

	proc *process
}

// URL returns socks5://user:pass@host:port with percent-encoded
// credentials.
func (s *Server) URL() string {
	u := url.URL{Scheme: "socks5", Host: s.Addr}
	if s.User != "" {
		u.User = url.UserPassword(s.User, s.Pass)
	}
	return u.String()
}

// Stop stops the server now, leaving its port closed: a proxy that is
// down.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.proc.stop(); err != nil {
		t.Fatal(err)
	}
}

// Log returns what the server logged so far.
func (s *Server) Log() string { return s.proc.Log() }

// ready waits until the server accepts connections at inside (within ns
// when set), then fills the address fields.
func (s *Server) ready(t testing.TB, ns *Netns, inside string) error {
	t.Helper()
	dial := func() error {
		c, err := net.DialTimeout("tcp", inside, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if ns != nil {
		dial = func() error {
			c, err := ns.Dial(inside)
			if err == nil {
				c.Close()
			}
			return err
		}
	}
	if err := s.proc.waitReady(dial); err != nil {
		return err
	}
	s.Addr = inside
	if ns != nil {
		s.Addr = ns.Forward(t, inside)
	}
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	return nil
}

// startAttempts is how often a server is started on a new port when it
// exits at start-up (its port taken between freePort and bind).
const startAttempts = 3

// freePort returns a loopback port free at the time of asking. A server
// that loses it to someone else fails to start, and the caller retries.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// listenAddr is where a server listens: a free loopback port, or the
// namespace's next port from 1080 (nobody else listens there).
func listenAddr(t testing.TB, ns *Netns) (host string, port int) {
	if ns != nil {
		return "127.0.0.1", ns.nextPort()
	}
	return "127.0.0.1", freePort(t)
}

func orLoopback(a netip.Addr) netip.Addr {
	if a.IsValid() {
		return a
	}
	return netip.MustParseAddr("127.0.0.1")
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, fmt.Sprint(port))
}
