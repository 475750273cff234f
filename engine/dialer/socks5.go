package dialer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/proxy"
)

// Dialer connects to ip:port. It is what the engine needs from this
// package; consumers may declare the same interface themselves.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Conn is a connection to a target through a SOCKS5 proxy. Reads and
// writes go straight to the TCP connection with the proxy, which after the
// handshake is a transparent tunnel; LocalAddr and RemoteAddr are those of
// that connection, i.e. RemoteAddr is the proxy's address.
type Conn struct {
	net.Conn
	proxy  Proxy
	authed bool
}

// Proxy returns the proxy the connection goes through, so callers using a
// Rotation can report which one served them.
func (c *Conn) Proxy() Proxy { return c.proxy }

// Authenticated reports whether the proxy chose username/password
// authentication (RFC 1928 §3 method X'02') for this connection. False
// with Proxy().Username set means the proxy let us in without checking
// the password: it is open to anyone who can reach it.
func (c *Conn) Authenticated() bool { return c.authed }

// socks5Dialer speaks RFC 1928 through golang.org/x/net/proxy.
type socks5Dialer struct {
	p     Proxy
	label string // p.String(), computed once for errors
	auth  *proxy.Auth
	base  net.Dialer
}

// SOCKS5Option configures NewSOCKS5.
type SOCKS5Option func(*socks5Dialer)

// GuardProxy vets every IP address the dialer connects to for reaching the
// proxy itself, after DNS resolution, with check (CheckAddr): a proxy
// named by an API client must not make the server connect to its own
// network (SSRF), any more than an MX host may. Configured proxies are the
// operator's and are not guarded.
func GuardProxy(check func(netip.Addr) error) SOCKS5Option {
	return func(d *socks5Dialer) {
		d.base.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dialer: unexpected proxy address: %w", err)
			}
			if err := check(ap.Addr()); err != nil {
				return fmt.Errorf("dialer: proxy %s: %w", d.label, err)
			}
			return nil
		}
	}
}

// NewSOCKS5 returns a Dialer that connects through the SOCKS5 proxy p,
// authenticating with RFC 1929 when p.Username is set. Addresses passed to
// DialContext must be IP literals (see ErrTargetNotIP) so the proxy never
// resolves names. Failures are returned as *ProxyError.
func NewSOCKS5(p Proxy, opts ...SOCKS5Option) (Dialer, error) {
	switch {
	case p.Host == "":
		return nil, errors.New("dialer: proxy host is empty")
	case p.Port < 1 || p.Port > 65535:
		return nil, fmt.Errorf("dialer: proxy port %d out of range 1-65535", p.Port)
	case p.Username == "" && p.Password != "":
		return nil, errors.New("dialer: proxy password set without a username")
	case len(p.Username) > maxCredentialLen || len(p.Password) > maxCredentialLen:
		return nil, errors.New("dialer: proxy username or password longer than 255 bytes (RFC 1929)")
	case p.Timeout < 0:
		return nil, errors.New("dialer: negative proxy timeout")
	}
	d := &socks5Dialer{p: p, label: p.String()}
	if p.Username != "" {
		d.auth = &proxy.Auth{User: p.Username, Password: p.Password}
	}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// DialContext connects to address (ip:port) through the proxy. The
// context's deadline, and p.Timeout when set, bound the TCP connection to
// the proxy and the whole handshake, including a proxy that accepts the
// connection and then never answers.
func (d *socks5Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := checkTarget(network, address); err != nil {
		return nil, err
	}
	if d.p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.p.Timeout)
		defer cancel()
	}
	// x/net/proxy reports failures as untyped errors. Rather than reading
	// their text, we hand it a forward dialer whose connection keeps the
	// first bytes the proxy sends; after a failure those bytes say how far
	// the handshake got and which status or reply code the proxy sent
	// (see classify). The recorder is per dial, so a fresh x/net dialer is
	// built each time: it is a small struct and costs far less than the
	// TCP handshake it precedes.
	rec := &recorder{base: &d.base, anon: d.auth == nil}
	pd, err := proxy.SOCKS5("tcp", d.p.Addr(), d.auth, rec)
	if err != nil {
		return nil, fmt.Errorf("dialer: socks5 proxy %s: %w", d.label, err)
	}
	cd, ok := pd.(proxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("dialer: socks5 proxy %s: x/net/proxy dialer lacks DialContext", d.label)
	}
	if _, err := cd.DialContext(ctx, network, address); err != nil {
		return nil, d.classify(ctx, rec, err)
	}
	// Return the raw TCP connection: the recorder is no longer needed, and
	// x/net's wrapper adds only BoundAddr (RFC 1928 §6 BND.ADDR), which no
	// caller needs.
	authed := rec.conn.nin >= 2 && rec.conn.in[1] == methodUserPass
	return &Conn{Conn: rec.conn.Conn, proxy: d.p, authed: authed}, nil
}

// recorder is the forward dialer given to x/net/proxy: it opens the TCP
// connection to the proxy and wraps it in a recordingConn.
type recorder struct {
	base *net.Dialer
	anon bool           // we offer only "no authentication"
	conn *recordingConn // nil until the proxy accepted the TCP connection
}

// Dial implements proxy.Dialer; x/net/proxy calls DialContext instead.
func (r *recorder) Dial(network, address string) (net.Conn, error) {
	return r.DialContext(context.Background(), network, address)
}

// DialContext implements proxy.ContextDialer.
func (r *recorder) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := r.base.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	r.conn = &recordingConn{Conn: c, anon: r.anon}
	return r.conn, nil
}

// transcriptLen covers the longest prefix classify looks at: method
// selection (2) + RFC 1929 status (2) + VER REP RSV ATYP (4).
const transcriptLen = 8

// errMethodNotOffered stops a handshake in which the proxy chose a method
// we did not offer.
var errMethodNotOffered = errors.New("proxy chose an authentication method that was not offered")

// recordingConn keeps the first bytes read from the proxy. Only the
// handshake goroutine uses it; the connection is unwrapped before it is
// handed to the caller.
type recordingConn struct {
	net.Conn
	anon bool
	in   [transcriptLen]byte
	nin  int
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.nin += copy(c.in[c.nin:], b[:n])
	return n, err
}

// Write refuses to send anything after a method selection we did not
// ask for. Without credentials x/net/proxy offers only X'00' but does not
// check the proxy's choice: it would send CONNECT to a proxy expecting
// RFC 1929 credentials and then wait for a reply that never comes.
func (c *recordingConn) Write(b []byte) (int, error) {
	if c.anon && c.nin >= 2 && c.in[1] != methodNone {
		return 0, errMethodNotOffered
	}
	return c.Conn.Write(b)
}

// Handshake constants from RFC 1928 and RFC 1929.
const (
	socksVersion   = 0x05 // RFC 1928 §3 VER
	methodNone     = 0x00 // RFC 1928 §3 NO AUTHENTICATION REQUIRED
	methodUserPass = 0x02 // RFC 1928 §3 USERNAME/PASSWORD
	methodNoAccept = 0xFF // RFC 1928 §3 NO ACCEPTABLE METHODS
	authVersion    = 0x01 // RFC 1929 §2 sub-negotiation VER
)
