package app

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/mailprobe/mailprobe/engine/address"
	"github.com/mailprobe/mailprobe/internal/config"
)

// StartupWarnings is what the CLI, `mailprobe serve` and the Lambda
// functions log when they start: the configuration loader's warnings, then
// the sender and EHLO names that mail servers will refuse. The defaults
// stay Reacher's (hello@localhost, localhost), so a user who keeps them is
// told once why many servers answer "unknown".
func StartupWarnings(cfg config.Config) []string {
	w := slices.Clone(cfg.Warnings)
	w = append(w, fqdnWarnings("", cfg.FromEmail, cfg.HelloName)...)
	for _, p := range slices.Sorted(maps.Keys(cfg.Overrides.Providers)) {
		o := cfg.Overrides.Providers[p]
		w = append(w, fqdnWarnings("overrides."+string(p)+".", o.FromEmail, o.HelloName)...)
	}
	return w
}

// fqdnWarnings checks one pair of settings; "" means unset (inherited).
func fqdnWarnings(prefix, from, hello string) []string {
	var w []string
	if from != "" && !fqdnSender(from) {
		w = append(w, fmt.Sprintf("%sfrom_email %q is not at a fully-qualified domain: Postfix servers with "+
			"reject_non_fqdn_sender (and reject_unknown_sender_domain) refuse it, and every address they host "+
			"is then reported unknown with cause sender_rejected; use an address at a domain you own", prefix, from))
	}
	if hello != "" && !fqdnHello(hello) {
		w = append(w, fmt.Sprintf("%shello_name %q is not a fully-qualified domain name: Postfix servers with "+
			"reject_non_fqdn_helo_hostname or reject_invalid_helo_hostname refuse it, and every address they host "+
			"is then reported unknown with cause helo_rejected; use the proxy IP's reverse-DNS name", prefix, hello))
	}
	return w
}

// fqdnSender reports whether from is an address at a domain of at least
// two labels (address.Parse refuses single-label domains and literals).
func fqdnSender(from string) bool {
	_, err := address.Parse(from)
	return err == nil
}

// fqdnHello reports whether an EHLO name is a fully-qualified domain name
// or an address literal (RFC 5321 §4.1.1.1 allows both; Postfix's
// reject_non_fqdn_helo_hostname accepts both).
func fqdnHello(hello string) bool {
	if lit, ok := strings.CutPrefix(hello, "["); ok {
		lit, ok = strings.CutSuffix(lit, "]")
		_, err := netip.ParseAddr(strings.TrimPrefix(lit, "IPv6:"))
		return ok && err == nil
	}
	return fqdnSender("postmaster@" + strings.TrimSuffix(hello, "."))
}
