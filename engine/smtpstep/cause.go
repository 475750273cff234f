package smtpstep

import "github.com/mailprobe/mailprobe/engine/smtpprobe"

// Cause is mailprobe's reason for a failure, finer than its Type: Reacher
// clients deserialize the type into an enum and must only see Reacher's
// names there, so the cause travels beside it. The values are stable
// snake_case words, for JSON and metrics alike.
type Cause string

// The causes of a failure.
const (
	// The server refused us, not the mailbox (RFC 3463 X.1.7, X.1.8,
	// X.7.x, and the texts that name the sender, the client or HELO).
	CauseSenderRejected Cause = "sender_rejected" // MAIL FROM refused, SPF and DMARC failures included
	CauseHeloRejected   Cause = "helo_rejected"   // the EHLO name refused
	CauseBlocked        Cause = "blocked"         // our IP refused: block lists, "Client host rejected"
	CauseNeedsRDNS      Cause = "needs_rdns"      // our IP lacks reverse DNS
	CausePolicy         Cause = "policy"          // another policy refusal (X.7.x)

	// Deferrals: no answer yet; asking later may give one.
	CauseGreylisted        Cause = "greylisted"
	CauseRateLimited       Cause = "rate_limited"        // connection, message or recipient rate limits
	CauseTooManyRecipients Cause = "too_many_recipients" // X.5.3
	CauseTemporary         Cause = "temporary"           // any other 4xx

	// A reply the classification table does not read with confidence.
	CauseUnclassified Cause = "unclassified"

	// Failures before any reply.
	CauseTimeout        Cause = "timeout"
	CauseProxy          Cause = "proxy"      // the SOCKS5 proxy failed or refused the connection
	CauseProxyAuth      Cause = "proxy_auth" // the proxy refused our credentials
	CausePrivateAddress Cause = "private_address"
	CauseConnection     Cause = "connection" // the connection failed or was dropped
	CauseProtocol       Cause = "protocol"   // a malformed reply
)

// causeOf names what a reply of class c says about a failure.
func causeOf(c smtpprobe.Class) Cause {
	switch c {
	case smtpprobe.SenderRejected:
		return CauseSenderRejected
	case smtpprobe.HeloRejected:
		return CauseHeloRejected
	case smtpprobe.Blocked:
		return CauseBlocked
	case smtpprobe.NeedsRDNS:
		return CauseNeedsRDNS
	case smtpprobe.PolicyRejected:
		return CausePolicy
	case smtpprobe.Greylisted:
		return CauseGreylisted
	case smtpprobe.RateLimited:
		return CauseRateLimited
	case smtpprobe.TooManyRecipients:
		return CauseTooManyRecipients
	case smtpprobe.Temporary:
		return CauseTemporary
	}
	return CauseUnclassified
}

// reacherDescription keeps a description only if it is one of the two
// values of Reacher's SmtpErrorDesc.
func reacherDescription(d string) string {
	switch d {
	case smtpprobe.DescIPBlacklisted, smtpprobe.DescNeedsRDNS:
		return d
	}
	return ""
}
