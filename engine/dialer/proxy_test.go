package dialer

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseProxyURL(t *testing.T) {
	tests := []struct {
		in   string
		want Proxy
	}{
		{"socks5://127.0.0.1:1080", Proxy{Host: "127.0.0.1", Port: 1080}},
		{"socks5://user:pass@proxy.example.com:1080", Proxy{Host: "proxy.example.com", Port: 1080, Username: "user", Password: "pass"}},
		{"SOCKS5://user:pass@proxy.example.com:1080/", Proxy{Host: "proxy.example.com", Port: 1080, Username: "user", Password: "pass"}},
		{"socks5h://u:p@10.0.0.1:9050", Proxy{Host: "10.0.0.1", Port: 9050, Username: "u", Password: "p"}},
		{"  socks5://u:p@h:1\n", Proxy{Host: "h", Port: 1, Username: "u", Password: "p"}},
		{"socks5://user@h:65535", Proxy{Host: "h", Port: 65535, Username: "user"}},
		{"socks5://u:@h:1080", Proxy{Host: "h", Port: 1080, Username: "u"}},
		{"socks5://[::1]:1080", Proxy{Host: "::1", Port: 1080}},
		{"socks5://u:p@[2001:db8::1]:1080", Proxy{Host: "2001:db8::1", Port: 1080, Username: "u", Password: "p"}},
		// Percent-encoded specials, including ':' and '@' and '%'.
		{"socks5://us%40er:p%3Aa%40s%25s%2Fw%23d@h:1080", Proxy{Host: "h", Port: 1080, Username: "us@er", Password: "p:a@s%s/w#d"}},
		{"socks5://u:" + url.PathEscape("päss wörd") + "@h:1080", Proxy{Host: "h", Port: 1080, Username: "u", Password: "päss wörd"}},
		// Raw specials are tolerated where unambiguous: the last '@' ends
		// the userinfo, the first ':' ends the username.
		{"socks5://u:p@ss:w#rd/x@h:1080", Proxy{Host: "h", Port: 1080, Username: "u", Password: "p@ss:w#rd/x"}},
		{"socks5://u:a+b@h:1080", Proxy{Host: "h", Port: 1080, Username: "u", Password: "a+b"}},
		// No port, or an empty one, is the IANA SOCKS port (RFC 1928
		// §3, RFC 3986 §3.2.3), as the configuration always read it.
		{"socks5://h", Proxy{Host: "h", Port: 1080}},
		{"socks5://h:", Proxy{Host: "h", Port: 1080}},
		{"socks5://[::1]", Proxy{Host: "::1", Port: 1080}},
		{"socks5://u:p@h/", Proxy{Host: "h", Port: 1080, Username: "u", Password: "p"}},
		// Reacher's proxy.timeout_ms as a query parameter.
		{"socks5://u@[::1]:9?timeout_ms=1500", Proxy{Host: "::1", Port: 9, Username: "u", Timeout: 1500 * time.Millisecond}},
		{"socks5://h:1080/?timeout_ms=0", Proxy{Host: "h", Port: 1080}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProxyURL(tt.in)
			if err != nil {
				t.Fatalf("ParseProxyURL(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseProxyURL(%q) = %#v, want %#v (password %q, want %q)",
					tt.in, got, tt.want, got.Password, tt.want.Password)
			}
		})
	}
}

func TestParseProxyURLErrors(t *testing.T) {
	const plain = "hunter2secret"
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "missing scheme"},
		{"no scheme", "user:" + secret + "@h:1080", "missing scheme"},
		{"http scheme", "http://h:1080", `unsupported scheme "http"`},
		{"socks4", "socks4://h:1080", `unsupported scheme "socks4"`},
		{"odd scheme", "user:" + secret + "://h:1080", "unsupported scheme, want socks5"},
		{"missing host", "socks5://:1080", "missing host"},
		{"nothing after @", "socks5://u:" + plain + "@", "missing host"},
		{"forgot host", "socks5://u:" + plain, "invalid port"},
		{"port zero", "socks5://h:0", "invalid port"},
		{"port too big", "socks5://h:65536", "invalid port"},
		{"port negative", "socks5://h:-1", "invalid port"},
		{"port not a number", "socks5://h:socks", "invalid port"},
		{"unbracketed v6", "socks5://::1:1080", "malformed host:port"},
		{"path", "socks5://h:1080/x", "unexpected path"},
		{"query", "socks5://h:1080?timeout=5", "unexpected path"},
		{"fragment", "socks5://h:1080#x", "unexpected path"},
		{"fragment after query", "socks5://h:1080?timeout_ms=5#x", "unexpected path"},
		{"timeout twice", "socks5://h:1080?timeout_ms=5&timeout_ms=6", "unexpected path"},
		{"timeout not a number", "socks5://u:" + plain + "@h:1?timeout_ms=x", "invalid timeout_ms"},
		{"timeout negative", "socks5://h:1?timeout_ms=-1", "invalid timeout_ms"},
		{"timeout overflows", "socks5://h:1?timeout_ms=9223372036854775", "invalid timeout_ms"},
		{"bad query escape", "socks5://h:1?timeout_ms=%zz", "malformed query"},
		{"bracket without v6 end", "socks5://[::1", "malformed host:port"},
		{"stray bracket", "socks5://h]", "malformed host:port"},
		{"bad escape in password", "socks5://u:" + secret + "%zz@h:1080", "invalid percent-encoding in password"},
		{"bad escape in user", "socks5://u%g:p@h:1080", "invalid percent-encoding in username"},
		{"password without user", "socks5://:" + secret + "@h:1080", "password given without a username"},
		{"long user", "socks5://" + strings.Repeat("u", 256) + ":p@h:1080", "username longer than 255"},
		{"long password", "socks5://u:" + strings.Repeat("p", 256) + "@h:1080", "password longer than 255"},
		{"space in host", "socks5://h h:1080", "invalid host"},
		{"zone in host", "socks5://[fe80::1%25eth0]:1080", "invalid host"},
		{"percent in host", "socks5://h%41:1080", "invalid host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProxyURL(tt.in)
			if err == nil {
				t.Fatalf("ParseProxyURL(%q) = %v, want error", tt.in, p)
			}
			if !errors.Is(err, ErrInvalidProxyURL) {
				t.Errorf("error %v does not wrap ErrInvalidProxyURL", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), plain) || strings.Contains(err.Error(), "ppppp") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestProxyRedaction(t *testing.T) {
	p := Proxy{ID: "eu-1", Host: "proxy.example.com", Port: 1080, Username: "al:ice", Password: secret, Timeout: 5 * time.Second}
	if got, want := p.String(), "socks5://al%3Aice:***@proxy.example.com:1080"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	noPass := Proxy{Host: "::1", Port: 1080, Username: "bob"}
	if got, want := noPass.String(), "socks5://bob@[::1]:1080"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("dial", "proxy", p)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("dial", "proxy", p, slog.Any("ptr", &p))
	pe := &ProxyError{ProxyID: p.ID, Proxy: p.String(), Kind: ProxyAuth, Stage: StageAuth, Reply: 1}
	outputs := map[string]string{
		"%v":          fmt.Sprintf("%v", p),
		"%+v":         fmt.Sprintf("%+v", p),
		"%#v":         fmt.Sprintf("%#v", p),
		"pointer":     fmt.Sprint(&p),
		"slog text":   text.String(),
		"slog JSON":   js.String(),
		"ProxyError":  pe.Error(),
		"wrapped err": fmt.Errorf("probe: %w", pe).Error(),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, secret) || strings.Contains(out, url.PathEscape(secret)) {
				t.Errorf("output leaks the password: %s", out)
			}
			if !strings.Contains(out, "proxy.example.com") {
				t.Errorf("output lacks the host: %s", out)
			}
		})
	}
	if !strings.Contains(js.String(), `"id":"eu-1"`) {
		t.Errorf("JSON log lacks the proxy id: %s", js.String())
	}
}

// FuzzParseProxyURL checks that parsing never panics, that a parsed proxy
// survives a round trip through a percent-encoded URL, and that its
// redacted form hides the password.
func FuzzParseProxyURL(f *testing.F) {
	for _, s := range []string{
		"socks5://u:p@h:1080", "socks5h://[::1]:1", "socks5://us%40er:p%3A@h:2/", "socks5://:p@h:1",
		"socks5://u:p@ss@h:1", "socks5://h", "http://h:1", "socks5://h:1/?timeout_ms=250",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProxyURL(s)
		if err != nil {
			return
		}
		u := url.URL{Scheme: "socks5", Host: p.Addr()}
		if p.Username != "" {
			u.User = url.UserPassword(p.Username, p.Password)
		}
		if p.Timeout > 0 {
			u.RawQuery = "timeout_ms=" + strconv.FormatInt(p.Timeout.Milliseconds(), 10)
		}
		q, err := ParseProxyURL(u.String())
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", u.String(), s, err)
		}
		if q != p {
			t.Fatalf("round trip of %q: got %#v, want %#v", s, q, p)
		}
		if p.Password != "" && !strings.Contains(p.String(), ":***@") {
			t.Fatalf("String() = %q does not mask the password", p.String())
		}
	})
}
