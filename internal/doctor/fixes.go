package doctor

import (
	"errors"
	"fmt"

	"github.com/mailprobe/mailprobe/engine/dialer"
)

// blockedFix is the advice for a proxy whose host cannot open port 25.
const blockedFix = "ask the proxy's provider to open outbound port 25 (AWS EC2 lifts its limit on request; many VPS providers allow it) or use another proxy"

// dialFailure turns a failed SOCKS5 dial into the socks5 line and, when
// negotiation passed, the connect line. The table follows the dialer's
// typed errors, never their text.
func dialFailure(p dialer.Proxy, t resolved, err error, took float64) []Check {
	var pe *dialer.ProxyError
	if !errors.As(err, &pe) {
		return []Check{{Name: CheckSOCKS5, Proxy: p.ID, Status: Fail, Reason: err.Error(), DurationMS: took}}
	}
	kind := pe.Kind.String()
	if pe.Stage != dialer.StageConnect {
		c := Check{Name: CheckSOCKS5, Proxy: p.ID, Status: Fail, Kind: kind, DurationMS: took}
		c.Reason, c.Fix = negotiationFailure(p, pe)
		return []Check{c}
	}
	ok := Check{Name: CheckSOCKS5, Proxy: p.ID, Status: Pass, Reason: "negotiation and authentication passed"}
	c := Check{Name: CheckConnect, Proxy: p.ID, Status: Fail, Kind: kind, DurationMS: took}
	c.Reason, c.Fix = connectFailure(pe, t)
	return []Check{ok, c}
}

// negotiationFailure explains a failure before CONNECT (RFC 1928 §3,
// RFC 1929 §2).
func negotiationFailure(p dialer.Proxy, pe *dialer.ProxyError) (reason, fix string) {
	switch {
	case pe.Kind == dialer.ProxyAuth && pe.Stage == dialer.StageAuth:
		return fmt.Sprintf("the proxy refused the password of user %q (RFC 1929 status 0x%02x)", p.Username, pe.Reply),
			"check the username and password (percent-encode ':', '@' and '%' in a proxy URL); dante checks a system user's password, microsocks its -u and -P"
	case pe.Kind == dialer.ProxyAuth && p.Username == "":
		return "the proxy requires authentication and no username is configured",
			"put the credentials in the proxy URL: socks5://user:pass@host:port"
	case pe.Kind == dialer.ProxyAuth:
		return "the proxy accepts none of the offered methods (no authentication, username/password)",
			"enable username/password authentication on the proxy (dante: socksmethod: username)"
	case pe.Kind == dialer.ProxyProtocol:
		return fmt.Sprintf("the server at %s does not speak SOCKS5", p.Addr()),
			"check the port: is it an HTTP proxy, or another service?"
	case pe.Kind == dialer.ProxyUnreachable:
		return "the proxy accepted the TCP connection and closed it without a SOCKS5 answer",
			"look at the proxy's log: it may refuse mailprobe's address (dante: client pass rules) or be overloaded"
	case pe.Kind == dialer.Timeout:
		return "no SOCKS5 answer in time", "look at the proxy's log; a proxy this slow is unusable"
	}
	return pe.Error(), "look at the proxy's log"
}

// connectFailure explains a CONNECT the proxy could not carry out (RFC
// 1928 §6 replies, or no reply at all).
func connectFailure(pe *dialer.ProxyError, t resolved) (reason, fix string) {
	switch pe.Kind {
	case dialer.NotAllowed:
		return fmt.Sprintf("the proxy's rules refuse CONNECT to %s (reply 0x02): port 25 is blocked at the proxy", t.addr),
			"allow CONNECT to port 25 in the proxy's rules (dante: a socks pass rule for port 25), or use a proxy service that allows SMTP"
	case dialer.TargetRefused:
		return fmt.Sprintf("the connection from the proxy to %s was refused (reply 0x05)", t.addr),
			"the server does not listen there, or the proxy's host rejects outbound port 25: " + blockedFix
	case dialer.TargetUnreachable:
		what := "network"
		if pe.Reply == 0x04 {
			what = "host"
		}
		return fmt.Sprintf("the proxy has no route to %s (%s unreachable, reply 0x%02x)", t.addr, what, pe.Reply),
			"the proxy's host lacks connectivity to the target (IPv6-only target from an IPv4 proxy?), or its provider rejects port 25: " + blockedFix
	case dialer.TTLExpired:
		return fmt.Sprintf("the proxy's connection to %s timed out (TTL expired, reply 0x06): outbound port 25 is most likely blocked at the proxy's host", t.addr),
			blockedFix
	case dialer.Timeout:
		return fmt.Sprintf("no answer to CONNECT %s in time: the proxy is still trying, as when its host drops outbound port 25", t.addr),
			blockedFix
	case dialer.ProxyFailure:
		return fmt.Sprintf("the proxy reported a general failure connecting to %s (reply 0x%02x)", t.addr, pe.Reply),
			"the proxy's log says why (often its host's firewall refusing port 25): " + blockedFix
	case dialer.ProxyProtocol:
		return "the proxy answered CONNECT with bytes that are not SOCKS5", "look at the proxy's log, or use another proxy"
	}
	return pe.Error(), "look at the proxy's log"
}
