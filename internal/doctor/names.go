package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/mailprobe/mailprobe/engine/address"
	"github.com/mailprobe/mailprobe/engine/mx"
)

// helloCheck reports whether hello_name is a fully-qualified domain name,
// as RFC 5321 §4.1.1.1 asks of the EHLO argument. Many servers refuse or
// score down "localhost", bare words and address literals.
func (d *Doctor) helloCheck() Check {
	name := d.cfg.HelloName
	c := Check{Name: CheckHelloName, Status: Pass}
	fix := "set hello_name (--hello-name, RCH__HELLO_NAME) to the fully-qualified name in the reverse DNS (PTR) of your proxy's exit IP"
	if strings.HasPrefix(name, "[") {
		c.Status, c.Reason, c.Fix = Warn, fmt.Sprintf("%s is an address literal: allowed (RFC 5321 §4.1.3), but many servers distrust it", name), fix
		return c
	}
	// The engine's address grammar checks the name as it checks a
	// domain: LDH labels, length limits, at least one dot, no numeric TLD.
	_, err := address.Parse("postmaster@" + name)
	var se *address.SyntaxError
	switch {
	case err == nil:
		c.Reason = name + " is a fully-qualified domain name"
	case errors.As(err, &se) && se.Reason == address.SingleLabel:
		c.Status, c.Fix = Warn, fix
		c.Reason = fmt.Sprintf("%q is not a fully-qualified domain name (RFC 5321 §4.1.1.1): many servers refuse or distrust such an EHLO", name)
	default:
		c.Status, c.Fix = Warn, fix
		c.Reason = fmt.Sprintf("%q is not a valid host name for EHLO", name)
	}
	return c
}

// fromCheck reports whether from_email's domain can receive mail: many
// servers refuse MAIL FROM a domain that does not resolve (Postfix's
// reject_unknown_sender_domain, for one), and RFC 7505 §4.2 lets them refuse
// a sender whose domain has a null MX.
func (d *Doctor) fromCheck(ctx context.Context) Check {
	c := Check{Name: CheckFromEmail, Status: Fail}
	fix := "set from_email (--from-email, RCH__FROM_EMAIL) to an address at a domain you control that has MX records"
	a, err := address.Parse(d.cfg.FromEmail)
	var se *address.SyntaxError
	switch {
	case errors.As(err, &se) && se.Reason == address.SingleLabel:
		_, domain, _ := strings.Cut(d.cfg.FromEmail, "@")
		c.Reason, c.Fix = fmt.Sprintf("the domain of %s, %q, is not fully qualified: servers that check senders refuse it", d.cfg.FromEmail, domain), fix
		return c
	case err != nil:
		c.Reason, c.Fix = fmt.Sprintf("%q is not a valid address: %v", d.cfg.FromEmail, err), fix
		return c
	}
	recs, err := d.cfg.Resolver.LookupMX(ctx, a.Domain)
	var re *mx.ResolveError
	switch {
	case errors.As(err, &re):
		c.Status, c.Reason = Warn, fmt.Sprintf("could not check %s: %v", a.Domain, err)
		c.Fix = "see the dns check"
	case err != nil:
		c.Reason, c.Fix = fmt.Sprintf("%s does not resolve (%v): many servers refuse MAIL FROM such a domain", a.Domain, err), fix
	case recs.Null:
		c.Reason, c.Fix = fmt.Sprintf("%s has a null MX: it declares it receives no mail, and servers may refuse it as a sender (RFC 7505 §4.2)", a.Domain), fix
	case recs.Implicit:
		c.Status, c.Reason = Pass, fmt.Sprintf("%s resolves (no MX record; its address acts as one)", a.Domain)
	default:
		c.Status, c.Reason = Pass, fmt.Sprintf("%s has an MX record (%s)", a.Domain, strings.TrimSuffix(recs.Hosts[0].Name, "."))
	}
	return c
}

// reverseCheck checks the exit IP's reverse DNS: a PTR name whose address
// records lead back to the IP (forward-confirmed), equal to hello_name.
// Gmail, Outlook and many others refuse or distrust clients without one.
func (d *Doctor) reverseCheck(ctx context.Context, proxyID string, ip netip.Addr) Check {
	c := Check{Name: CheckReverseDNS, Proxy: proxyID, Status: Warn}
	names, err := d.ptr.lookup(ctx, ip)
	switch {
	case err != nil:
		c.Reason = fmt.Sprintf("the PTR query for %s failed: %v", ip, err)
		c.Fix = "see the dns check"
		return c
	case len(names) == 0:
		c.Reason = fmt.Sprintf("%s has no reverse DNS (PTR): many servers refuse or distrust such clients", ip)
		c.Fix = fmt.Sprintf("ask the proxy's provider to set the PTR of %s to a name whose A record is %s, and use that name as hello_name", ip, ip)
		return c
	}
	hello := strings.ToLower(strings.TrimSuffix(d.cfg.HelloName, "."))
	var confirmed []string
	for _, n := range names {
		ips, err := d.cfg.Resolver.LookupIP(ctx, n)
		if err == nil && slices.Contains(ips, ip) {
			confirmed = append(confirmed, n)
		}
	}
	switch {
	case len(confirmed) == 0:
		c.Reason = fmt.Sprintf("%s → %s, which does not resolve back to %s (not forward-confirmed)", ip, names[0], ip)
		c.Fix = fmt.Sprintf("add an A record %s → %s", names[0], ip)
	case !slices.Contains(confirmed, hello):
		c.Reason = fmt.Sprintf("%s → %s → %s, but hello_name is %s", ip, confirmed[0], ip, d.cfg.HelloName)
		c.Fix = fmt.Sprintf("set hello_name to %s", confirmed[0])
	default:
		c.Status = Pass
		c.Reason = fmt.Sprintf("%s → %s → %s, the hello_name", ip, hello, ip)
	}
	return c
}
