package dialer

import (
	"errors"
	"fmt"
	"log/slog"
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

// ParseProxyURL parses socks5://[user[:password]@]host:port. The scheme
// socks5h is accepted as a synonym: the dialer always sends IP literals,
// so whether the proxy could resolve names makes no difference. Username
// and password may be percent-encoded (RFC 3986 §2.1), which is the only
// way to write a '%' or ':' inside them.
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
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#") {
		return Proxy{}, parseErr("unexpected path, query or fragment after host:port")
	}
	if err := p.parseHostPort(rest); err != nil {
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

// parseHostPort fills p.Host and p.Port from "host:port" or "[v6]:port".
// Its errors do not echo the input: "socks5://user:secret" (a forgotten
// host) would otherwise print the password as the port.
func (p *Proxy) parseHostPort(hostport string) error {
	if hostport == "" {
		return parseErr("missing host")
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		if !strings.Contains(strings.TrimPrefix(hostport, "["), ":") || strings.HasSuffix(hostport, "]") {
			return parseErr("missing port")
		}
		return parseErr("malformed host:port (bracket IPv6 addresses: [::1]:1080)")
	}
	if host == "" {
		return parseErr("missing host")
	}
	if !isHostName(host) {
		return parseErr("invalid host")
	}
	if port == "" {
		return parseErr("missing port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return parseErr("invalid port, want 1-65535")
	}
	p.Host, p.Port = host, n
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
