package doctor

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

// The outcomes. A Fail makes the report fail (the CLI exits non-zero); a
// Warn is worth fixing but does not stop verification.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Names of the checks, in the order they run.
const (
	CheckConfig     = "config"      // the configuration loads and is valid
	CheckDNS        = "dns"         // the resolver answers
	CheckTarget     = "target"      // the target MX resolves to a usable address
	CheckHelloName  = "hello_name"  // hello_name is a fully-qualified domain name
	CheckFromEmail  = "from_email"  // from_email's domain resolves
	CheckProxy      = "proxy"       // a proxy is configured (or direct is allowed)
	CheckTCP        = "tcp"         // TCP reaches the proxy
	CheckSOCKS5     = "socks5"      // SOCKS5 negotiation and auth (RFC 1928, 1929)
	CheckConnect    = "connect"     // CONNECT to the target's SMTP port
	CheckBanner     = "banner"      // the server's greeting
	CheckEHLO       = "ehlo"        // EHLO and the extensions
	CheckExitIP     = "exit_ip"     // the proxy's address as the MX sees it
	CheckReverseDNS = "reverse_dns" // the exit IP's PTR, confirmed and matching hello_name
)

// Check is the outcome of one check: one line of the text report.
type Check struct {
	Name string `json:"name"`
	// Proxy is the id of the proxy the check concerns ("direct" without
	// one); empty for checks of the configuration.
	Proxy  string `json:"proxy,omitempty"`
	Status Status `json:"status"`
	// Reason says what was found, Fix what to do about a warning or a
	// failure. Neither ever contains a proxy password.
	Reason string `json:"reason"`
	Fix    string `json:"fix,omitempty"`
	// Kind is the engine's error kind behind a failed proxy check (e.g.
	// "proxy authentication failed"), for machines; empty otherwise.
	Kind string `json:"kind,omitempty"`
	// DurationMS is how long a network check took.
	DurationMS float64 `json:"duration_ms,omitempty"`
}

// Target is the mail server the proxies were asked to reach.
type Target struct {
	Input string `json:"input"`          // as given, or the default
	Host  string `json:"host,omitempty"` // the MX host (or the IP given)
	Addr  string `json:"addr,omitempty"` // ip:port dialled
}

// ProxyReport sums up one proxy, for machines.
type ProxyReport struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"` // redacted: socks5://user:***@host:port
	OK         bool     `json:"ok"`  // no check of this proxy failed
	Banner     string   `json:"banner,omitempty"`
	Extensions []string `json:"extensions,omitempty"`
	ExitIP     string   `json:"exit_ip,omitempty"`
}

// Report is the outcome of a Run. Its JSON form is what --json prints and
// GET /v1/doctor answers.
type Report struct {
	OK      bool          `json:"ok"` // no check failed
	Target  Target        `json:"target"`
	Checks  []Check       `json:"checks"`
	Proxies []ProxyReport `json:"proxies"`
}

// ConfigError is the report for a configuration that does not load: the
// one check that could run.
func ConfigError(err error) Report {
	return finish(Report{Checks: []Check{{
		Name: CheckConfig, Status: Fail, Reason: err.Error(),
		Fix: "correct the setting named above (backend_config.toml, RCH__ variables or flags)",
	}}})
}

// finish sets OK and makes the slices non-nil for JSON.
func finish(r Report) Report {
	r.OK = true
	for _, c := range r.Checks {
		if c.Status == Fail {
			r.OK = false
		}
	}
	if r.Proxies == nil {
		r.Proxies = []ProxyReport{}
	}
	return r
}

// Counts returns how many checks passed, warned and failed.
func (r Report) Counts() (pass, warn, fail int) {
	for _, c := range r.Checks {
		switch c.Status {
		case Pass:
			pass++
		case Warn:
			warn++
		case Fail:
			fail++
		}
	}
	return pass, warn, fail
}

// WriteText writes one line per check, "STATUS  name  [proxy] reason;
// fix: ...", then a summary line.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-11s  ", strings.ToUpper(string(c.Status)), c.Name)
		if c.Proxy != "" {
			fmt.Fprintf(&b, "[%s] ", c.Proxy)
		}
		b.WriteString(c.Reason)
		if c.Fix != "" {
			b.WriteString("; fix: ")
			b.WriteString(c.Fix)
		}
		b.WriteByte('\n')
	}
	pass, warn, fail := r.Counts()
	fmt.Fprintf(&b, "%d checks: %d passed, %d %s, %d failed\n", len(r.Checks), pass, warn, plural(warn, "warning"), fail)
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// ms is a duration in milliseconds with microsecond precision.
func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
