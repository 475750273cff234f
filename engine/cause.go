package engine

import "github.com/mailprobe/mailprobe/engine/smtpstep"

// Cause is mailprobe's reason for a failed step, finer than the error type
// (StepError.Cause): Reacher clients deserialize the type into an enum and
// must only see Reacher's names there, so the cause travels beside it, in
// the error object's "cause" field, which such clients ignore.
type Cause = smtpstep.Cause

// The causes of a failed smtp step; see smtpstep for their meaning.
const (
	CauseSenderRejected    = smtpstep.CauseSenderRejected
	CauseHeloRejected      = smtpstep.CauseHeloRejected
	CauseBlocked           = smtpstep.CauseBlocked
	CauseNeedsRDNS         = smtpstep.CauseNeedsRDNS
	CausePolicy            = smtpstep.CausePolicy
	CauseGreylisted        = smtpstep.CauseGreylisted
	CauseRateLimited       = smtpstep.CauseRateLimited
	CauseTooManyRecipients = smtpstep.CauseTooManyRecipients
	CauseTemporary         = smtpstep.CauseTemporary
	CauseUnclassified      = smtpstep.CauseUnclassified
	CauseTimeout           = smtpstep.CauseTimeout
	CauseProxy             = smtpstep.CauseProxy
	CauseProxyAuth         = smtpstep.CauseProxyAuth
	CausePrivateAddress    = smtpstep.CausePrivateAddress
	CauseConnection        = smtpstep.CauseConnection
	CauseProtocol          = smtpstep.CauseProtocol
)

// Causes of the engine's own, outside the SMTP conversation.
const (
	CauseNoProxy Cause = "no_proxy" // no proxy configured, direct connections not allowed
	CauseSkipped Cause = "skipped"  // the provider's method is switched off, or not SMTP
	CauseDNS     Cause = "dns"      // mx step: the resolvers failed (SERVFAIL, REFUSED, timeout)
)
