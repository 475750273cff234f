package config

import (
	"errors"
	"fmt"

	"github.com/mailprobe/mailprobe/engine/dialer"
)

// ErrBadProxyURL is wrapped by ParseProxyURLs errors. It is
// dialer.ErrInvalidProxyURL: the configuration reads proxy URLs with the
// engine's grammar, so there is one definition of a valid proxy URL.
var ErrBadProxyURL = dialer.ErrInvalidProxyURL

// ProxyList is the proxy_urls setting: proxies given as URLs, rotated with
// [proxy].
type ProxyList []Proxy

// parseSetting reads a comma-separated string or a TOML list of URLs. An
// entry may instead be an ssm: or secretsmanager: reference to a parameter
// or secret holding such a list, so that proxy passwords need not sit in a
// Lambda function's environment; ResolveSecrets reads it.
func (l *ProxyList) parseSetting(raw any) error {
	urls, err := toStrings(raw)
	if err != nil {
		return err
	}
	var out ProxyList
	var errs []error
	for i, u := range urls {
		if IsSecretRef(u) {
			out = append(out, Proxy{ref: u})
			continue
		}
		p, err := parseProxyURL(u)
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i+1, err))
			continue
		}
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	*l = out
	return nil
}

// ParseProxyURLs parses a comma-separated list of proxy URLs in the grammar
// of dialer.ParseProxyURL: socks5://[user[:password]@]host[:port][?timeout_ms=N]
// (socks5h is accepted as a synonym, the port defaults to 1080). Errors
// name the entry by position and never repeat the text, which may hold a
// password.
func ParseProxyURLs(list string) ([]Proxy, error) {
	var l ProxyList
	err := l.parseSetting(list)
	return l, err
}

// parseProxyURL reads one URL with the dialer's parser and keeps its
// password as a Secret.
func parseProxyURL(raw string) (Proxy, error) {
	p, err := dialer.ParseProxyURL(raw)
	if err != nil {
		return Proxy{}, err
	}
	return Proxy{
		Host:     p.Host,
		Port:     p.Port,
		Username: p.Username,
		Password: NewSecret(p.Password),
		Timeout:  p.Timeout,
	}, nil
}
