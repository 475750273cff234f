package dialer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// target is an echo server on 127.0.0.1:0 that records who connected.
type target struct {
	addr string
	mu   sync.Mutex
	from []netip.Addr
}

func startTarget(t testing.TB) *target {
	t.Helper()
	tg := &target{}
	tg.addr = serve(t, func(c net.Conn) {
		ap := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		tg.mu.Lock()
		tg.from = append(tg.from, ap.Addr().Unmap())
		tg.mu.Unlock()
		_, _ = io.Copy(c, c)
	})
	return tg
}

func (tg *target) peers() []netip.Addr {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]netip.Addr(nil), tg.from...)
}

// serve runs handle for every connection to a new listener on
// 127.0.0.1:0 and returns its address. Cleanup closes the listener and
// the connections, then waits for the handlers.
func serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// proxyFor returns the Proxy describing s.
func proxyFor(t testing.TB, s *sockstest.Server) Proxy {
	t.Helper()
	p, err := ParseProxyURL(s.URL())
	if err != nil {
		t.Fatalf("ParseProxyURL(%q): %v", s.URL(), err)
	}
	return p
}

// mustDialer builds a SOCKS5 dialer for p.
func mustDialer(t testing.TB, p Proxy) Dialer {
	t.Helper()
	d, err := NewSOCKS5(p)
	if err != nil {
		t.Fatalf("NewSOCKS5: %v", err)
	}
	return d
}

// roundTrip writes a line through c and checks that the echo comes back.
func roundTrip(t testing.TB, c net.Conn) {
	t.Helper()
	msg := []byte("EHLO mailprobe.test\r\n")
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

// asProxyError fails the test unless err is a *ProxyError.
func asProxyError(t testing.TB, err error) *ProxyError {
	t.Helper()
	var pe *ProxyError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ProxyError", err, err)
	}
	return pe
}

// kindOf returns the Kind of the first *ProxyError in err's chain, or 0.
func kindOf(err error) ProxyErrorKind {
	var pe *ProxyError
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return 0
}

// dialOnce dials addr through d with a context canceled at cleanup.
func dialOnce(t testing.TB, d Dialer, addr string) (net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}
