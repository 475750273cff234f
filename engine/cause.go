package engine

import "github.com/mailprobe/mailprobe/engine/smtpstep"

// Cause is mailprobe's reason for a failed smtp step, finer than the error
// type (StepError.Cause): Reacher clients deserialize the type into an
// enum and must only see Reacher's names there, so the cause travels
// beside it, for the API to write in a field such clients ignore.
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
