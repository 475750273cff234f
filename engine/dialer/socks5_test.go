package dialer

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

const secret = "s3cr%t:p@ss/w#rd"

func TestSOCKS5Connect(t *testing.T) {
	source := netip.MustParseAddr("127.0.0.9")
	tests := []struct {
		name string
		opts sockstest.Options
		want netip.Addr // source address the target must see, if valid
	}{
		{name: "password", opts: sockstest.Options{User: "alice", Pass: secret}},
		{name: "no auth", opts: sockstest.Options{}},
		{name: "source IP", opts: sockstest.Options{User: "bob", Pass: "pw", SourceIP: source}, want: source},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sockstest.Start(t, tt.opts)
			tg := startTarget(t)
			p := proxyFor(t, srv)
			c, err := dialOnce(t, mustDialer(t, p), tg.addr)
			if err != nil {
				t.Fatalf("DialContext: %v", err)
			}
			roundTrip(t, c)

			pc, ok := c.(*Conn)
			if !ok {
				t.Fatalf("conn is %T, want *Conn", c)
			}
			if pc.Proxy() != p {
				t.Errorf("Conn.Proxy() = %v, want %v", pc.Proxy(), p)
			}
			if pc.Authenticated() != (tt.opts.User != "") {
				t.Errorf("Conn.Authenticated() = %v with proxy user %q", pc.Authenticated(), tt.opts.User)
			}
			if got := srv.Connections(); got != 1 {
				t.Errorf("proxy Connections() = %d, want 1", got)
			}
			if got := srv.Targets(); len(got) != 1 || got[0] != tg.addr {
				t.Errorf("proxy Targets() = %v, want [%s]", got, tg.addr)
			}
			if tt.want.IsValid() {
				if got := tg.peers(); len(got) != 1 || got[0] != tt.want {
					t.Errorf("target saw connections from %v, want [%v]", got, tt.want)
				}
			}
		})
	}
}

// TestSOCKS5Errors runs the failures a real proxy (go-socks5) produces.
func TestSOCKS5Errors(t *testing.T) {
	tg := startTarget(t)
	authed := sockstest.Start(t, sockstest.Options{User: "alice", Pass: secret})
	deny := sockstest.Start(t, sockstest.Options{Deny: func(netip.AddrPort) bool { return true }})
	down := sockstest.Start(t, sockstest.Options{})
	down.SetDown(true)
	closedPort, _ := netip.ParseAddrPort(closedAddr(t))

	good := proxyFor(t, authed)
	good.ID = "eu-1"
	wrongPass := good
	wrongPass.Password = "not-" + secret
	noCreds := good
	noCreds.Username, noCreds.Password = "", ""
	nobody := Proxy{ID: "eu-2", Host: "127.0.0.1", Port: int(closedPort.Port()), Username: "alice", Password: secret}

	tests := []struct {
		name   string
		proxy  Proxy
		target string
		kind   ProxyErrorKind
		stage  Stage
		reply  byte
	}{
		{"wrong password", wrongPass, tg.addr, ProxyAuth, StageAuth, 0x01},
		{"credentials missing", noCreds, tg.addr, ProxyAuth, StageGreeting, 0xFF},
		{"proxy not listening", nobody, tg.addr, ProxyUnreachable, StageDial, 0},
		// The reset may reach the client during connect or during the
		// greeting, depending on scheduling: stage 0 skips that check.
		{"proxy down", proxyFor(t, down), tg.addr, ProxyUnreachable, 0, 0},
		{"target port closed", good, closedPort.String(), TargetRefused, StageConnect, 0x05},
		{"target denied by rules", proxyFor(t, deny), tg.addr, NotAllowed, StageConnect, 0x02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dialOnce(t, mustDialer(t, tt.proxy), tt.target)
			pe := asProxyError(t, err)
			if pe.Kind != tt.kind || (tt.stage != 0 && pe.Stage != tt.stage) || pe.Reply != tt.reply {
				t.Errorf("got kind %v, stage %v, reply %#x; want %v, %v, %#x (%v)",
					pe.Kind, pe.Stage, pe.Reply, tt.kind, tt.stage, tt.reply, err)
			}
			if kindOf(err) != tt.kind {
				t.Errorf("kind in chain = %v, want %v", kindOf(err), tt.kind)
			}
			if IsAuth(err) != (tt.kind == ProxyAuth) {
				t.Errorf("IsAuth = %v for kind %v", IsAuth(err), tt.kind)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(pe.Proxy, secret) {
				t.Errorf("error leaks the password: %v", err)
			}
			if pe.ProxyID != tt.proxy.ID || (tt.proxy.ID != "" && !strings.Contains(err.Error(), "proxy "+tt.proxy.ID+" (")) {
				t.Errorf("error names proxy %q, want %q: %v", pe.ProxyID, tt.proxy.ID, err)
			}
		})
	}
	if got := authed.Connections(); got != 0 {
		t.Errorf("authenticated proxy forwarded %d connections after failures, want 0", got)
	}
}

// scripted runs a fake SOCKS5 server executing steps on each connection.
func scripted(t *testing.T, steps ...func(net.Conn) bool) Proxy {
	t.Helper()
	addr := serve(t, func(c net.Conn) {
		for _, step := range steps {
			if !step(c) {
				return
			}
		}
		// Hold the connection until the client or cleanup closes it.
		_, _ = io.Copy(io.Discard, c)
	})
	ap := netip.MustParseAddrPort(addr)
	return Proxy{Host: ap.Addr().String(), Port: int(ap.Port()), Username: "u", Password: secret}
}

// Script steps. Each returns false to close the connection.
func readGreeting(c net.Conn) bool {
	h := make([]byte, 2)
	if _, err := io.ReadFull(c, h); err != nil {
		return false
	}
	_, err := io.ReadFull(c, make([]byte, h[1]))
	return err == nil
}

func readAuth(c net.Conn) bool {
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil {
		return false
	}
	if _, err := io.ReadFull(c, make([]byte, b[1])); err != nil {
		return false
	}
	if _, err := io.ReadFull(c, b[:1]); err != nil {
		return false
	}
	_, err := io.ReadFull(c, make([]byte, b[0]))
	return err == nil
}

// readConnect reads a CONNECT request for an IPv4 target.
func readConnect(c net.Conn) bool {
	_, err := io.ReadFull(c, make([]byte, 4+4+2))
	return err == nil
}

func send(b ...byte) func(net.Conn) bool {
	return func(c net.Conn) bool {
		_, err := c.Write(b)
		return err == nil
	}
}

func hangUp(net.Conn) bool { return false }

func reply(code byte) func(net.Conn) bool {
	return send(5, code, 0, 1, 0, 0, 0, 0, 0, 0)
}

// TestSOCKS5Scripted covers replies go-socks5 never sends.
func TestSOCKS5Scripted(t *testing.T) {
	noAuth := []func(net.Conn) bool{readGreeting, send(5, 0), readConnect}
	withAuth := []func(net.Conn) bool{readGreeting, send(5, 2), readAuth, send(1, 0), readConnect}
	tests := []struct {
		name  string
		steps []func(net.Conn) bool
		anon  bool // dial without credentials
		kind  ProxyErrorKind
		stage Stage
		reply byte
	}{
		{"general failure", append(noAuth, reply(1)), false, ProxyFailure, StageConnect, 1},
		{"not allowed", append(noAuth, reply(2)), false, NotAllowed, StageConnect, 2},
		{"network unreachable", append(noAuth, reply(3)), false, TargetUnreachable, StageConnect, 3},
		{"host unreachable", append(withAuth, reply(4)), false, TargetUnreachable, StageConnect, 4},
		{"refused after auth", append(withAuth, reply(5)), false, TargetRefused, StageConnect, 5},
		{"TTL expired", append(noAuth, reply(6)), false, TTLExpired, StageConnect, 6},
		{"command not supported", append(noAuth, reply(7)), false, ProxyFailure, StageConnect, 7},
		{"unassigned reply", append(noAuth, reply(0x42)), false, ProxyFailure, StageConnect, 0x42},
		{"hang up after CONNECT", append(noAuth, hangUp), false, ProxyFailure, StageConnect, 0},
		{"reply wrong version", append(noAuth, send(4, 0, 0, 1, 0, 0, 0, 0, 0, 0)), false, ProxyProtocol, StageConnect, 0},
		{"success with bad address type", append(noAuth, send(5, 0, 0, 9)), false, ProxyProtocol, StageConnect, 0},
		{"success with bad reserved byte", append(noAuth, send(5, 0, 7, 1, 0, 0, 0, 0, 0, 0)), false, ProxyProtocol, StageConnect, 0},
		{"HTTP proxy", []func(net.Conn) bool{readGreeting, send([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")...)}, false, ProxyProtocol, StageGreeting, 0},
		{"silent hang-up", []func(net.Conn) bool{hangUp}, false, ProxyUnreachable, 0, 0}, // reset during connect or greeting
		{"one byte then hang-up", []func(net.Conn) bool{readGreeting, send(5), hangUp}, false, ProxyProtocol, StageGreeting, 0},
		{"method not offered", []func(net.Conn) bool{readGreeting, send(5, 1)}, false, ProxyProtocol, StageGreeting, 0},
		{"no acceptable methods", []func(net.Conn) bool{readGreeting, send(5, 0xFF)}, false, ProxyAuth, StageGreeting, 0xFF},
		{"anonymous, method not offered", []func(net.Conn) bool{readGreeting, send(5, 1)}, true, ProxyProtocol, StageGreeting, 0},
		{"demands auth we lack", []func(net.Conn) bool{readGreeting, send(5, 2)}, true, ProxyAuth, StageGreeting, 0},
		{"auth rejected", []func(net.Conn) bool{readGreeting, send(5, 2), readAuth, send(1, 2)}, false, ProxyAuth, StageAuth, 2},
		{"auth wrong version", []func(net.Conn) bool{readGreeting, send(5, 2), readAuth, send(5, 0)}, false, ProxyProtocol, StageAuth, 0},
		{"hang up during auth", []func(net.Conn) bool{readGreeting, send(5, 2), readAuth, hangUp}, false, ProxyProtocol, StageAuth, 0},
	}
	tg := "192.0.2.1:25" // never reached: the scripted proxy answers for it
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := scripted(t, tt.steps...)
			if tt.anon {
				p.Username, p.Password = "", ""
			}
			_, err := dialOnce(t, mustDialer(t, p), tg)
			pe := asProxyError(t, err)
			if pe.Kind != tt.kind || (tt.stage != 0 && pe.Stage != tt.stage) || pe.Reply != tt.reply {
				t.Errorf("got kind %v, stage %v, reply %#x; want %v, %v, %#x (%v)",
					pe.Kind, pe.Stage, pe.Reply, tt.kind, tt.stage, tt.reply, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

// TestSOCKS5Deadline checks that a proxy that accepts TCP and never
// answers cannot hold a dial past its deadline or cancellation.
func TestSOCKS5Deadline(t *testing.T) {
	hole := sockstest.Start(t, sockstest.Options{Blackhole: true})
	silentConnect := scripted(t, readGreeting, send(5, 0), readConnect)

	withTimeout := proxyFor(t, hole)
	withTimeout.Timeout = 50 * time.Millisecond

	tests := []struct {
		name       string
		proxy      Proxy
		ctx        func() (context.Context, context.CancelFunc)
		kind       ProxyErrorKind
		stage      Stage
		cause      error
		proxyLevel bool
	}{
		{"context deadline", proxyFor(t, hole), shortDeadline, Timeout, StageGreeting, context.DeadlineExceeded, true},
		{"proxy timeout", withTimeout, background, Timeout, StageGreeting, context.DeadlineExceeded, true},
		{"no CONNECT reply", silentConnect, shortDeadline, Timeout, StageConnect, context.DeadlineExceeded, false},
		{"canceled", proxyFor(t, hole), cancelSoon, Canceled, StageGreeting, context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			c, err := mustDialer(t, tt.proxy).DialContext(ctx, "tcp", "192.0.2.1:25")
			if err == nil {
				c.Close()
				t.Fatal("DialContext succeeded through a silent proxy")
			}
			pe := asProxyError(t, err)
			if pe.Kind != tt.kind || pe.Stage != tt.stage {
				t.Errorf("got kind %v, stage %v; want %v, %v (%v)", pe.Kind, pe.Stage, tt.kind, tt.stage, err)
			}
			if !errors.Is(err, tt.cause) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.cause)
			}
			if pe.ProxyLevel() != tt.proxyLevel {
				t.Errorf("ProxyLevel() = %v, want %v", pe.ProxyLevel(), tt.proxyLevel)
			}
		})
	}
}

func background() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func shortDeadline() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 50*time.Millisecond)
}

// cancelSoon cancels the context shortly after the dial starts waiting.
func cancelSoon() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	return ctx, cancel
}

func TestTargetMustBeIP(t *testing.T) {
	srv := sockstest.Start(t, sockstest.Options{})
	dialers := map[string]Dialer{
		"socks5": mustDialer(t, proxyFor(t, srv)),
		"direct": Direct(time.Second),
	}
	tests := []struct {
		name, network, address string
		notIP                  bool
	}{
		{"host name", "tcp", "mx.example.com:25", true},
		{"localhost", "tcp", "localhost:25", true},
		{"zoned IPv6", "tcp", "[fe80::1%lo]:25", true},
		{"udp", "udp", "192.0.2.1:25", false},
		{"no port", "tcp", "192.0.2.1", false},
		{"port zero", "tcp", "192.0.2.1:0", false},
		{"port too big", "tcp", "192.0.2.1:65536", false},
	}
	for dname, d := range dialers {
		for _, tt := range tests {
			t.Run(dname+"/"+tt.name, func(t *testing.T) {
				c, err := d.DialContext(context.Background(), tt.network, tt.address)
				if err == nil {
					c.Close()
					t.Fatalf("DialContext(%q, %q) succeeded", tt.network, tt.address)
				}
				if errors.Is(err, ErrTargetNotIP) != tt.notIP {
					t.Errorf("errors.Is(%v, ErrTargetNotIP) = %v, want %v", err, !tt.notIP, tt.notIP)
				}
				if kindOf(err) != 0 {
					t.Errorf("argument error %v reported as proxy error kind %v", err, kindOf(err))
				}
			})
		}
	}
	if srv.Accepted() != 0 {
		t.Errorf("proxy saw %d connections for invalid targets, want 0", srv.Accepted())
	}
}

func TestNewSOCKS5Invalid(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name string
		p    Proxy
	}{
		{"empty host", Proxy{Port: 1080}},
		{"port zero", Proxy{Host: "127.0.0.1"}},
		{"port too big", Proxy{Host: "127.0.0.1", Port: 70000}},
		{"password without user", Proxy{Host: "127.0.0.1", Port: 1080, Password: secret}},
		{"long username", Proxy{Host: "127.0.0.1", Port: 1080, Username: long}},
		{"long password", Proxy{Host: "127.0.0.1", Port: 1080, Username: "u", Password: long}},
		{"negative timeout", Proxy{Host: "127.0.0.1", Port: 1080, Timeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSOCKS5(tt.p)
			if err == nil {
				t.Fatal("NewSOCKS5 accepted an invalid proxy")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), long) {
				t.Errorf("error leaks a credential: %v", err)
			}
		})
	}
}

func TestDirect(t *testing.T) {
	tg := startTarget(t)
	c, err := dialOnce(t, Direct(time.Second), tg.addr)
	if err != nil {
		t.Fatalf("Direct: %v", err)
	}
	roundTrip(t, c)
}
