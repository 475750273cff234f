package dialer

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidProxyURL is wrapped by every error ParseProxyURL returns, so
// configuration loaders can tell a bad proxy URL from other failures.
var ErrInvalidProxyURL = errors.New("invalid proxy URL")

// maxCredentialLen is the longest username or password RFC 1929 §2 can
// carry: both are sent with a one-octet length prefix.
const maxCredentialLen = 255

// Proxy is one SOCKS5 proxy (RFC 1928) with optional username/password
// authentication (RFC 1929).
//
// String, GoString and LogValue redact the password, so a Proxy can be
// printed or logged safely; code that marshals a Proxy in other ways must
// redact Password itself.
type Proxy struct {
	// ID names the proxy in configuration ([overrides.proxies] <id>) and
	// in logs; it may be empty.
	ID string
	// Host is the proxy's host name or IP address, without brackets.
	Host string
	// Port is the proxy's TCP port.
	Port int
	// Username and Password are sent with RFC 1929 when Username is set.
	Username, Password string
	// Timeout, when positive, bounds connecting to the proxy and the whole
	// SOCKS5 handshake, on top of any deadline carried by the context
	// (Reacher's proxy.timeout_ms).
	Timeout time.Duration
}

// Addr returns the proxy's host:port, suitable for net.Dial.
func (p Proxy) Addr() string {
	return net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
}

// String returns the proxy as a URL with the password replaced by "***",
// e.g. "socks5://user:***@host:1080".
func (p Proxy) String() string {
	var b strings.Builder
	b.WriteString("socks5://")
	if p.Username != "" {
		// url.User escapes ':' and '@' in the username, keeping the
		// output parseable.
		b.WriteString(url.User(p.Username).String())
		if p.Password != "" {
			b.WriteString(":***")
		}
		b.WriteByte('@')
	}
	b.WriteString(p.Addr())
	return b.String()
}

// GoString redacts the password from %#v output, which would otherwise
// print every field.
func (p Proxy) GoString() string {
	return fmt.Sprintf("dialer.Proxy{ID:%q, URL:%q, Timeout:%v}", p.ID, p.String(), p.Timeout)
}

// LogValue implements slog.LogValuer so that logging a Proxy, with any
// handler, never prints its password.
func (p Proxy) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 3)
	if p.ID != "" {
		attrs = append(attrs, slog.String("id", p.ID))
	}
	attrs = append(attrs, slog.String("url", p.String()))
	if p.Timeout > 0 {
		attrs = append(attrs, slog.Duration("timeout", p.Timeout))
	}
	return slog.GroupValue(attrs...)
}

// defaultPort is the port of a proxy URL that names none: the SOCKS port
// registered with IANA (RFC 1928 §3).
const defaultPort = 1080

// maxTimeoutMS is the largest ?timeout_ms= whose time.Duration does not
// overflow.
const maxTimeoutMS = math.MaxInt64 / int64(time.Millisecond)

// ParseProxyURL parses socks5://[user[:password]@]host[:port][?timeout_ms=N],
// the one proxy URL grammar of mailprobe (configuration and tests alike).
// The scheme socks5h is accepted as a synonym: the dialer always sends IP
// literals, so whether the proxy could resolve names makes no difference.
// Username and password may be percent-encoded (RFC 3986 §2.1), which is
// the only way to write a '%' or ':' inside them, and each is at most 255
// bytes (RFC 1929 §2). A missing or empty port means 1080 (RFC 3986
// §3.2.3: an empty port is the scheme's default). timeout_ms sets
// Proxy.Timeout, as Reacher's proxy.timeout_ms does; no other query
// parameter, path or fragment is accepted, so a mistyped one is not
// silently ignored.
//
// Errors wrap ErrInvalidProxyURL and never contain the password.
func ParseProxyURL(s string) (Proxy, error) {
	s = strings.TrimSpace(s)
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Proxy{}, parseErr("missing scheme, want socks5://host:port")
	}
	switch strings.ToLower(scheme) {
	case "socks5", "socks5h":
	default:
		if isSchemeName(scheme) {
			return Proxy{}, parseErr(fmt.Sprintf("unsupported scheme %q, want socks5", scheme))
		}
		return Proxy{}, parseErr("unsupported scheme, want socks5")
	}

	var p Proxy
	// The last '@' ends the userinfo, as in net/url: a raw '@' in a
	// password then still parses.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if err := p.parseUserinfo(rest[:at]); err != nil {
			return Proxy{}, err
		}
		rest = rest[at+1:]
	}
	rest, query, _ := strings.Cut(rest, "?")
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/#") || strings.ContainsRune(query, '#') {
		return Proxy{}, parseErr("unexpected path, query or fragment after host:port")
	}
	if err := p.parseHostPort(rest); err != nil {
		return Proxy{}, err
	}
	if err := p.parseQuery(query); err != nil {
		return Proxy{}, err
	}
	return p, nil
}

// parseUserinfo decodes "user[:password]" into p.
func (p *Proxy) parseUserinfo(info string) error {
	rawUser, rawPass, _ := strings.Cut(info, ":")
	user, err := url.PathUnescape(rawUser)
	switch {
	case err != nil:
		return parseErr("invalid percent-encoding in username")
	case user == "" && info != "":
		return parseErr("password given without a username")
	case len(user) > maxCredentialLen:
		return parseErr("username longer than 255 bytes (RFC 1929)")
	}
	pass, err := url.PathUnescape(rawPass)
	switch {
	case err != nil:
		return parseErr("invalid percent-encoding in password")
	case len(pass) > maxCredentialLen:
		return parseErr("password longer than 255 bytes (RFC 1929)")
	}
	p.Username, p.Password = user, pass
	return nil
}

// parseHostPort fills p.Host and p.Port from "host[:port]" or
// "[v6][:port]". Its errors do not echo the input: "socks5://user:secret"
// (a forgotten host) would otherwise print the password as the port.
func (p *Proxy) parseHostPort(hostport string) error {
	if hostport == "" {
		return parseErr("missing host")
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port at all: the whole is the host, an IPv6 literal in
		// brackets (RFC 3986 §3.2.2). An IPv6 address without them is
		// ambiguous: its last group could be a port.
		n := len(hostport)
		switch {
		case n > 2 && hostport[0] == '[' && hostport[n-1] == ']':
			host = hostport[1 : n-1]
		case strings.ContainsAny(hostport, ":[]"):
			return parseErr("malformed host:port (bracket IPv6 addresses: [::1]:1080)")
		default:
			host = hostport
		}
	}
	if host == "" {
		return parseErr("missing host")
	}
	if !isHostName(host) {
		return parseErr("invalid host")
	}
	p.Host, p.Port = host, defaultPort
	if port == "" {
		return nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return parseErr("invalid port, want 1-65535")
	}
	p.Port = n
	return nil
}

// parseQuery reads the query of a proxy URL: nothing, or timeout_ms=N
// (whole milliseconds, 0 for none) into p.Timeout.
func (p *Proxy) parseQuery(query string) error {
	if query == "" {
		return nil
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return parseErr("malformed query")
	}
	for key, v := range values {
		if key != "timeout_ms" || len(v) != 1 {
			return parseErr("unexpected path, query or fragment after host:port (the one query parameter is timeout_ms)")
		}
		ms, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || ms < 0 || ms > maxTimeoutMS {
			return parseErr("invalid timeout_ms, want whole milliseconds, 0 or more")
		}
		p.Timeout = time.Duration(ms) * time.Millisecond
	}
	return nil
}

// isHostName reports whether host holds only the characters of a DNS
// name or an IP address literal. IPv6 zones ("%eth0") are not accepted: a
// proxy is never on a link-local address.
func isHostName(host string) bool {
	for _, c := range host {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// isSchemeName reports whether s looks like a URL scheme (RFC 3986 §3.1),
// so it is safe to echo in an error: anything else might be a mistyped
// credential.
func isSchemeName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func parseErr(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidProxyURL, reason)
}
