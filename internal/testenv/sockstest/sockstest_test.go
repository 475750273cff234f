package sockstest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"testing"
	"time"

	"golang.org/x/net/proxy"
)

// echo starts an echo server and returns its address and a channel that
// receives the source address of every connection.
func echo(t *testing.T) (string, <-chan netip.Addr) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	from := make(chan netip.Addr, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case from <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap():
			default: // nobody is counting; never block the accept loop
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), from
}

// dial connects to target through s with x/net/proxy.
func dial(t *testing.T, s *Server, user, pass, target string) (net.Conn, error) {
	t.Helper()
	var auth *proxy.Auth
	if user != "" {
		auth = &proxy.Auth{User: user, Password: pass}
	}
	d, err := proxy.SOCKS5("tcp", s.Addr, auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", target)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestURL(t *testing.T) {
	s := Start(t, Options{User: "us:er", Pass: "p@ss%/#"})
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", s.URL(), err)
	}
	pass, _ := u.User.Password()
	if u.Scheme != "socks5" || u.Host != s.Addr || u.User.Username() != s.User || pass != s.Pass {
		t.Errorf("URL() = %q does not round-trip to %s with %q/%q", s.URL(), s.Addr, s.User, s.Pass)
	}
	if open := Start(t, Options{}); open.URL() != "socks5://"+open.Addr {
		t.Errorf("URL() without credentials = %q", open.URL())
	}
}

func TestForward(t *testing.T) {
	target, from := echo(t)
	src := netip.MustParseAddr("127.0.0.9")
	s := Start(t, Options{User: "u", Pass: "p", SourceIP: src})
	c, err := dial(t, s, "u", "p", target)
	if err != nil {
		t.Fatalf("dial through proxy: %v", err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	if got := <-from; got != src {
		t.Errorf("target saw connection from %v, want %v", got, src)
	}
	if s.Connections() != 1 || s.Accepted() != 1 {
		t.Errorf("Connections() = %d, Accepted() = %d, want 1, 1", s.Connections(), s.Accepted())
	}
	if got := s.Targets(); len(got) != 1 || got[0] != target {
		t.Errorf("Targets() = %v, want [%s]", got, target)
	}
}

func TestRefusals(t *testing.T) {
	target, _ := echo(t)
	tests := []struct {
		name       string
		opts       Options
		user, pass string
	}{
		{"wrong password", Options{User: "u", Pass: "p"}, "u", "nope"},
		{"missing credentials", Options{User: "u", Pass: "p"}, "", ""},
		{"denied target", Options{Deny: func(netip.AddrPort) bool { return true }}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Start(t, tt.opts)
			if _, err := dial(t, s, tt.user, tt.pass, target); err == nil {
				t.Fatal("dial succeeded")
			}
			if s.Connections() != 0 || len(s.Targets()) != 0 {
				t.Errorf("proxy forwarded %d connections, want 0", s.Connections())
			}
		})
	}
}

func TestSetDown(t *testing.T) {
	target, _ := echo(t)
	s := Start(t, Options{})
	s.SetDown(true)
	if _, err := dial(t, s, "", "", target); err == nil {
		t.Fatal("dial through a down proxy succeeded")
	}
	if s.Accepted() != 0 {
		t.Errorf("down proxy served %d connections, want 0", s.Accepted())
	}
	s.SetDown(false)
	if _, err := dial(t, s, "", "", target); err != nil {
		t.Fatalf("dial after SetDown(false): %v", err)
	}
	if s.Connections() != 1 {
		t.Errorf("Connections() = %d, want 1", s.Connections())
	}
}

func TestBlackhole(t *testing.T) {
	s := Start(t, Options{Blackhole: true})
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read from blackhole = %d, %v; want a deadline error", n, err)
	}
}
