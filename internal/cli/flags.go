// Package cli implements the mailprobe command line: `check` verifies
// addresses and prints one JSON result per line; `serve` runs the API with
// the embedded queue and store.
package cli

import (
	"flag"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/internal/config"
)

// engineFlag is a flag that sets one configuration key. Its value goes
// through the configuration loader like a file or RCH__ value, so the key's
// declaration in internal/config stays the only one.
type engineFlag struct {
	name, key, usage string
	kind             flagKind
}

type flagKind int

const (
	textFlag     flagKind = iota
	listFlag              // repeatable; values joined with commas
	durationFlag          // a Go duration ("5s")
	boolFlag
)

// engineFlagList lists the flags `check`, `serve` and `doctor` share. They
// override the configuration file and the RCH__ environment.
var engineFlagList = []engineFlag{
	{"proxy", "proxy_urls", "SOCKS5 proxy `socks5://[user:pass@]host:port`; repeat to rotate (replaces [proxy])", listFlag},
	{"dns", "dns", "DNS resolver `host:port`; repeatable (default: /etc/resolv.conf)", listFlag},
	{"smtp-port", "smtp_port", "SMTP `port` of the MX hosts (default 25)", textFlag},
	{"from-email", "from_email", "`address` for MAIL FROM (default hello@localhost)", textFlag},
	{"hello-name", "hello_name", "`name` for EHLO (default localhost)", textFlag},
	{"smtp-timeout", "smtp_timeout", "overall SMTP `duration` per address (default 45s)", durationFlag},
	{"allow-private-mx", "allow_private_mx", "allow MX hosts on loopback, private and link-local addresses", boolFlag},
	{"allow-direct", "allow_direct", "connect to MX hosts without a proxy (only where port 25 is open)", boolFlag},
	{"greylist-wait", "greylist_wait", "when greylisted, wait this `duration` and ask once more in the same check (0: don't)", durationFlag},
	{"retry-schedule", "retry.schedule", "`waits` between later checks after temporary answers, comma-separated (default 1m,5m,15m)", textFlag},
	{"retry-window", "retry.window", "stop retrying an address this `duration` after its first temporary answer (default 30m)", durationFlag},
	{"strict-config", "strict_config", "fail on unknown configuration keys instead of warning", boolFlag},
}

// serveFlagList lists the flags only `serve` has.
var serveFlagList = []engineFlag{
	{"allow-open-network", "allow_open_network", "serve without a secret on a non-loopback address (anyone on the network can use the API)", boolFlag},
	{"allowed-host", "allowed_hosts", "without a secret, also answer requests for this host `name` (besides IP addresses and localhost); repeatable", listFlag},
}

// engineFlags holds the values of engineFlagList (and of the extra flags
// a command registers) once parsed.
type engineFlags struct {
	configPath string
	list       []engineFlag
	values     map[string]*[]string // flag name → values given
}

// multi collects every value of a repeatable (or plain) flag.
type multi struct{ vals *[]string }

func (m multi) String() string {
	if m.vals == nil {
		return ""
	}
	return strings.Join(*m.vals, ",")
}
func (m multi) Set(v string) error { *m.vals = append(*m.vals, v); return nil }

// boolValue is a multi that the flag package treats as a boolean flag.
type boolValue struct{ multi }

func (boolValue) IsBoolFlag() bool { return true }

// durationValue checks the syntax at parse time so the error names the flag.
type durationValue struct{ multi }

func (d durationValue) Set(v string) error {
	if _, err := time.ParseDuration(v); err != nil {
		return err
	}
	return d.multi.Set(v)
}

func (f *engineFlags) register(fs *flag.FlagSet, extra ...engineFlag) {
	fs.StringVar(&f.configPath, "config", "", "backend_config.toml `file` (RCH__ environment variables are read too)")
	f.values = map[string]*[]string{}
	f.list = append(append([]engineFlag(nil), engineFlagList...), extra...)
	for _, ef := range f.list {
		vals := new([]string)
		f.values[ef.name] = vals
		var v flag.Value = multi{vals}
		switch ef.kind {
		case boolFlag:
			v = boolValue{multi{vals}}
		case durationFlag:
			v = durationValue{multi{vals}}
		}
		fs.Var(v, ef.name, ef.usage)
	}
}

// flags returns the flags that were given, as configuration layers.
func (f *engineFlags) flags() []config.Flag {
	var out []config.Flag
	for _, ef := range f.list {
		vals := *f.values[ef.name]
		if len(vals) == 0 {
			continue
		}
		v := vals[len(vals)-1] // the last one wins, as with the flag package
		if ef.kind == listFlag {
			v = strings.Join(vals, ",")
		}
		out = append(out, config.Flag{Name: ef.name, Key: ef.key, Value: v})
	}
	return out
}

// load reads the configuration with the flags that were given as its last
// layer. A --proxy on the command line replaces the configured [proxy]: the
// user asked for exactly those proxies.
func (f *engineFlags) load(environ []string) (config.Config, error) {
	cfg, err := config.Load(config.Options{File: f.configPath, Environ: environ, Flags: f.flags()})
	if err != nil {
		return config.Config{}, err
	}
	if len(*f.values["proxy"]) > 0 && cfg.Proxy != nil {
		cfg.Proxy = nil
		if err := cfg.Validate(); err != nil {
			return config.Config{}, err
		}
	}
	return cfg, nil
}

// EngineFlags are the engine flags of `check` and `serve` (--config,
// --proxy, --dns, --smtp-port, ...) for other commands that pass them on
// as configuration rather than load it themselves (lambda-local).
type EngineFlags struct{ f engineFlags }

// Register adds the flags to fs.
func (e *EngineFlags) Register(fs *flag.FlagSet) { e.f.register(fs) }

// Given returns the flags that were given, each with the dotted key it
// sets; a repeated list flag's values are joined with commas.
func (e *EngineFlags) Given() []config.Flag { return e.f.flags() }

// ConfigFile is the --config value ("" when not given).
func (e *EngineFlags) ConfigFile() string { return e.f.configPath }
