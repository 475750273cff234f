// Package cli implements the mailprobe command line: `check` verifies
// addresses and prints one JSON result per line; `serve` runs the API with
// the embedded queue and store.
package cli

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/internal/config"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// engineFlags are the flags `check` and `serve` share. They override the
// configuration file and the RCH__ environment.
type engineFlags struct {
	configPath     string
	proxies        listFlag
	dns            listFlag
	smtpPort       int
	fromEmail      string
	helloName      string
	smtpTimeout    time.Duration
	allowPrivateMX bool
	allowDirect    bool
	greylistWait   time.Duration
}

func (f *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.configPath, "config", "", "backend_config.toml `file` (RCH__ environment variables are read too)")
	fs.Var(&f.proxies, "proxy", "SOCKS5 proxy `socks5://[user:pass@]host:port`; repeat to rotate")
	fs.Var(&f.dns, "dns", "DNS resolver `host:port`; repeatable (default: /etc/resolv.conf)")
	fs.IntVar(&f.smtpPort, "smtp-port", 0, "SMTP `port` of the MX hosts (default 25)")
	fs.StringVar(&f.fromEmail, "from-email", "", "`address` for MAIL FROM (default hello@localhost)")
	fs.StringVar(&f.helloName, "hello-name", "", "`name` for EHLO (default localhost)")
	fs.DurationVar(&f.smtpTimeout, "smtp-timeout", 0, "overall SMTP `duration` per address (default 45s)")
	fs.BoolVar(&f.allowPrivateMX, "allow-private-mx", false, "allow MX hosts on loopback, private and link-local addresses")
	fs.BoolVar(&f.allowDirect, "allow-direct", false, "connect to MX hosts without a proxy (only where port 25 is open)")
	fs.DurationVar(&f.greylistWait, "greylist-wait", 0, "when greylisted, wait this `duration` and retry once (0: don't)")
}

// load reads the configuration, then applies the flags that were set.
func (f *engineFlags) load(environ []string) (config.Config, error) {
	cfg, err := config.Load(f.configPath, environ)
	if err != nil {
		return config.Config{}, err
	}
	if len(f.proxies) > 0 {
		pool, err := config.ParseProxyURLs(strings.Join(f.proxies, ","))
		if err != nil {
			return config.Config{}, fmt.Errorf("--proxy: %w", err)
		}
		cfg.Proxy, cfg.ProxyPool = nil, pool
	}
	if len(f.dns) > 0 {
		cfg.DNS = f.dns
	}
	if f.smtpPort != 0 {
		cfg.SMTPPort = f.smtpPort
	}
	if f.fromEmail != "" {
		cfg.FromEmail = f.fromEmail
	}
	if f.helloName != "" {
		cfg.HelloName = f.helloName
	}
	if f.smtpTimeout != 0 {
		cfg.SMTPTimeout = f.smtpTimeout
	}
	cfg.AllowPrivateMX = cfg.AllowPrivateMX || f.allowPrivateMX
	cfg.AllowDirect = cfg.AllowDirect || f.allowDirect
	if f.greylistWait != 0 {
		cfg.GreylistWait = f.greylistWait
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}
