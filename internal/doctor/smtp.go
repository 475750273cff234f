package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// maxShown bounds a server reply quoted in the report.
const maxShown = 120

// session reads the banner, sends EHLO and QUIT (never MAIL or RCPT) over
// conn, and reports the exit IP the server shows and its reverse DNS.
func (d *Doctor) session(ctx context.Context, conn net.Conn, pr ProxyReport, t resolved, checks []Check) (ProxyReport, []Check) {
	id := pr.ID
	c := smtpprobe.NewClient(conn, smtpprobe.ClientOptions{})
	defer c.Close()

	start := time.Now()
	banner, err := c.Greeting(ctx)
	if err != nil {
		return pr, append(checks, replyFailure(CheckBanner, id, banner, err, time.Since(start)))
	}
	pr.Banner = shown(banner)
	checks = append(checks, Check{Name: CheckBanner, Proxy: id, Status: Pass, Reason: pr.Banner, DurationMS: ms(time.Since(start))})

	start = time.Now()
	ehlo, err := c.Hello(ctx, d.cfg.HelloName)
	if err != nil {
		return pr, append(checks, replyFailure(CheckEHLO, id, ehlo, err, time.Since(start)))
	}
	pr.Extensions = extensions(ehlo)
	list := "none"
	if len(pr.Extensions) > 0 {
		list = strings.Join(pr.Extensions, " ")
	}
	checks = append(checks, Check{Name: CheckEHLO, Proxy: id, Status: Pass, DurationMS: ms(time.Since(start)),
		Reason: fmt.Sprintf("EHLO %s answered %d; extensions: %s", d.cfg.HelloName, ehlo.Code, list)})
	_ = c.Quit(ctx)

	ip, where := exitIP(banner, ehlo)
	if !ip.IsValid() {
		return pr, append(checks, Check{Name: CheckExitIP, Proxy: id, Status: Warn,
			Reason: fmt.Sprintf("%s does not show the client's address in its replies", t.host),
			Fix:    "to see the exit IP, run the doctor with --target a server that shows it (Gmail, Outlook and Exim do), or ask the proxy's provider"})
	}
	pr.ExitIP = ip.String()
	checks = append(checks, Check{Name: CheckExitIP, Proxy: id, Status: Pass,
		Reason: fmt.Sprintf("%s sees the connection coming from %s (%s)", t.host, ip, where)})
	return pr, append(checks, d.reverseCheck(ctx, id, ip))
}

// replyFailure reports a refused or failed banner or EHLO, classified by
// the engine's reply table.
func replyFailure(name, id string, r *smtpprobe.Reply, err error, took time.Duration) Check {
	c := Check{Name: name, Proxy: id, Status: Fail, DurationMS: ms(took)}
	if r == nil {
		var reply *smtpprobe.Reply
		if errors.As(err, &reply) {
			r = reply
		}
	}
	if r == nil {
		c.Reason = fmt.Sprintf("no reply: %v", err)
		c.Fix = "the server (or the proxy's tunnel) went silent: try again, or another --target"
		return c
	}
	class, desc := smtpprobe.Classify(r)
	c.Reason, c.Kind = "the server refused the session: "+shown(r), class.String()
	switch class {
	case smtpprobe.Blocked:
		c.Fix = "the server refuses the proxy's exit IP (" + desc + "): look the IP up in public blocklists (e.g. Spamhaus), ask for delisting, or use another proxy"
	case smtpprobe.NeedsRDNS:
		c.Fix = "give the proxy's exit IP a reverse DNS name that resolves back to it, and use that name as hello_name"
	default:
		c.Fix = "read the server's text above; a temporary (4xx) refusal may pass later"
	}
	return c
}

// shown is a reply as quoted in the report: its first line, bounded.
func shown(r *smtpprobe.Reply) string {
	line := ""
	if len(r.Lines) > 0 {
		line = r.Lines[0]
	}
	s := fmt.Sprintf("%d %s", r.Code, line)
	if !r.Enhanced.IsZero() {
		s = fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, line)
	}
	if len(s) > maxShown {
		s = s[:maxShown] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// extensions lists the EHLO keywords (RFC 5321 §4.1.1.1: every line after
// the first), sorted, with their parameters.
func extensions(r *smtpprobe.Reply) []string {
	if len(r.Lines) < 2 {
		return nil
	}
	out := make([]string, 0, len(r.Lines)-1)
	for _, l := range r.Lines[1:] {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, strings.ToUpper(l[:1])+l[1:])
		}
	}
	sort.Strings(out)
	return out
}

// exitIP finds the client's address where servers show it: an address
// literal in the EHLO greeting ("Hello name [203.0.113.5]", RFC 5321
// §4.1.3 syntax, as Exim, Sendmail, Gmail and Outlook write it), else in
// the banner.
func exitIP(banner, ehlo *smtpprobe.Reply) (netip.Addr, string) {
	if len(ehlo.Lines) > 0 {
		if ip, ok := literal(ehlo.Lines[0]); ok {
			return ip, "EHLO reply"
		}
	}
	for _, l := range banner.Lines {
		if ip, ok := literal(l); ok {
			return ip, "banner"
		}
	}
	return netip.Addr{}, ""
}

// literal returns the last bracketed IP address in s.
func literal(s string) (netip.Addr, bool) {
	var found netip.Addr
	for {
		open := strings.IndexByte(s, '[')
		if open < 0 {
			break
		}
		end := strings.IndexByte(s[open:], ']')
		if end < 0 {
			break
		}
		inner := s[open+1 : open+end]
		inner = strings.TrimPrefix(strings.TrimPrefix(inner, "IPv6:"), "ipv6:")
		if ip, err := netip.ParseAddr(inner); err == nil {
			found = ip.Unmap()
		}
		s = s[open+end+1:]
	}
	return found, found.IsValid()
}
