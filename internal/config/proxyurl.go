package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// ErrBadProxyURL is wrapped by ParseProxyURLs errors.
var ErrBadProxyURL = errors.New("bad proxy URL")

// ParseProxyURLs parses a comma-separated list of
// socks5://[user[:password]@]host[:port][?timeout_ms=N] URLs (socks5h is
// accepted as a synonym). Errors name the entry by position and never repeat
// the text, which may hold a password.
func ParseProxyURLs(list string) ([]Proxy, error) {
	var out []Proxy
	var errs []error
	for i, raw := range splitList(list) {
		p, err := parseProxyURL(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i+1, err))
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

func parseProxyURL(raw string) (Proxy, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// *url.Error repeats the whole URL, password included: keep
		// only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Proxy{}, fmt.Errorf("%w: %w", ErrBadProxyURL, err)
	}
	if u.Scheme != "socks5" && u.Scheme != "socks5h" {
		return Proxy{}, fmt.Errorf("%w: scheme must be socks5, got %q", ErrBadProxyURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return Proxy{}, fmt.Errorf("%w: no host", ErrBadProxyURL)
	}
	p := Proxy{Host: u.Hostname(), Port: defaultProxyPort}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil {
			return Proxy{}, fmt.Errorf("%w: port %w: %q", ErrBadProxyURL, ErrNotANumber, port)
		}
		p.Port = n
	}
	if u.User != nil {
		p.Username = u.User.Username()
		pw, _ := u.User.Password()
		p.Password = NewSecret(pw)
	}
	if ms := u.Query().Get("timeout_ms"); ms != "" {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return Proxy{}, fmt.Errorf("%w: timeout_ms %w: %q", ErrBadProxyURL, ErrNotANumber, ms)
		}
		p.Timeout = time.Duration(n) * time.Millisecond
	}
	return p, nil
}
