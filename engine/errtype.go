package engine

import "github.com/mailprobe/mailprobe/engine/smtpstep"

// Error types of a failed step: only names of Reacher's enums, because
// Reacher's clients deserialise "type" into those enums and fail on any
// other value. Reacher's SmtpError: AsyncSmtpError (the server's reply),
// IOError, Timeout (message: the time allowed, {secs, nanos}), Socks5,
// AnyhowError (anything else); its MxError: IoError, ResolveError; its
// MiscError has no variant. What mailprobe knows beyond these is the
// error's Cause (cause.go).
const (
	ErrTypeSMTP    = smtpstep.TypeSMTP
	ErrTypeIO      = smtpstep.TypeIO
	ErrTypeTimeout = smtpstep.TypeTimeout
	ErrTypeSocks5  = smtpstep.TypeSocks5
	ErrTypeAnyhow  = smtpstep.TypeAnyhow
	ErrTypeResolve = "ResolveError"
	ErrTypeMXIO    = "IoError"
)
