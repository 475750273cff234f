package smtpstep

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// Failure types: only names of Reacher's SmtpError enum, because Reacher's
// clients deserialise "type" into that enum and fail on any other value:
// AsyncSmtpError (the server's reply), IOError, Timeout (whose message is
// the time allowed), Socks5, AnyhowError (anything else). What mailprobe
// knows beyond these is the failure's Cause.
const (
	TypeSMTP    = "AsyncSmtpError"
	TypeIO      = "IOError"
	TypeTimeout = "Timeout"
	TypeSocks5  = "Socks5"
	TypeAnyhow  = "AnyhowError"
)

// defaultRetryAfter is used when a connection-level failure leaves no reply
// that says how long to wait.
const defaultRetryAfter = 5 * time.Minute

// deferral returns the reply with which a server deferred the whole
// domain in session r, or nil: a 421 (RFC 5321 §3.8: the service is
// closing the channel), a 4xx before any RCPT (banner, EHLO, MAIL FROM:
// nothing about a recipient yet), or a "too many recipients" (X.5.3) to
// the first RCPT of a transaction, which is a rate limit on us.
func deferral(r sessionResult) *smtpprobe.Reply {
	if n := len(r.out.Recipients); n > 0 && r.out.Recipients[n-1].Class == smtpprobe.TooManyRecipients {
		return r.out.Recipients[n-1].Reply
	}
	rep := sessionReply(r.err)
	switch {
	case rep == nil:
		return nil
	case rep.Code == 421:
		return rep
	case rep.Temporary() && r.out.RcptsSent == 0:
		return rep
	}
	return nil
}

// statedWait is the wait a reply names, if any.
func statedWait(r *smtpprobe.Reply) (time.Duration, bool) {
	return smtpprobe.StatedWait(r)
}

// retryFor is the retry of a transient reply r of class c: greylisting or
// another temporary condition, after the wait r names or the default for
// its class.
func retryFor(r *smtpprobe.Reply, c smtpprobe.Class, reason string) *Retry {
	kind := retry.Temporary
	if c == smtpprobe.Greylisted {
		kind = retry.Greylisted
	}
	after, stated := statedWait(r)
	if !stated {
		after = smtpprobe.RetryAfter(r, c)
		if after == 0 {
			after = smtpprobe.DefaultTemporaryWait
		}
	}
	return &Retry{Kind: kind, After: after, Stated: stated, Reason: reason}
}

// judgeRecipient reads the server's answer about one recipient. The
// catch-all flag is the probe's business (catchall.go).
func judgeRecipient(rr smtpprobe.RecipientResult) (Facts, *Failure, *Retry) {
	f := Facts{CanConnect: true}
	switch rr.Class {
	case smtpprobe.Deliverable:
		f.Deliverable = true
	case smtpprobe.Invalid:
	case smtpprobe.FullInbox:
		f.FullInbox = true
	case smtpprobe.Disabled:
		f.Disabled = true
	default:
		fail, retry := replyFailure(rr.Reply, rr.Class, rr.Description)
		return Facts{}, fail, retry
	}
	return f, nil, nil
}

// replyFailure maps a reply that says nothing definite about the mailbox to
// a failure, with a retry for transient replies (every 4xx, and X.5.3:
// smtpprobe.RetryAfter). class and desc are what smtpprobe.Classify says
// of r: a RCPT reply comes classified already, and reading its text again
// would double the work.
func replyFailure(r *smtpprobe.Reply, class smtpprobe.Class, desc string) (*Failure, *Retry) {
	// Whatever the reply is about, its type is Reacher's AsyncSmtpError,
	// the type of every reply Reacher does not turn into a verdict; what
	// it is about is the cause.
	f := &Failure{Type: TypeSMTP, Message: r.Error(), Description: reacherDescription(desc), Cause: causeOf(class)}
	if smtpprobe.RetryAfter(r, class) > 0 {
		return f, retryFor(r, class, string(f.Cause))
	}
	return f, nil
}

// failure maps the last connection-level error to a failure. ctxErr is
// non-nil when the time for the step ran out (or the caller's ctx ended):
// every failure then counts as a timeout, reported with the time the step
// was allowed, as Reacher reports its Timeout.
func failure(ctxErr, err error, allowed time.Duration) (*Failure, *Retry) {
	if err == nil {
		err = ctxErr
	}
	if err == nil {
		err = errors.New("no MX host could be reached")
	}
	var (
		pe    *dialer.ProxyError
		reply *smtpprobe.Reply
		perr  *smtpprobe.ProtocolError
	)
	again := &Retry{Kind: retry.Connection, After: defaultRetryAfter, Reason: "connection failure"}
	var held interface{ RetryAt() time.Time }
	if errors.As(err, &held) {
		// The limiter holds the MX host back past our deadline (another
		// session was deferred there): no session, no attempt; asked
		// again when the host lets us back.
		return &Failure{Type: TypeAnyhow, Message: err.Error(), Cause: CauseRateLimited},
			&Retry{Kind: retry.Temporary, After: max(time.Until(held.RetryAt()), time.Second), Stated: true, Reason: "MX host deferred us"}
	}
	switch {
	case errors.As(err, &reply):
		// A reply that ended a session (a refused banner, EHLO or MAIL
		// FROM, or a 421), which no one classified yet.
		class, desc := smtpprobe.ClassifyAt(stageOf(err), reply)
		return replyFailure(reply, class, desc)
	case errors.Is(err, dialer.ErrPrivateAddress):
		return &Failure{Type: TypeAnyhow, Message: err.Error(), Cause: CausePrivateAddress}, nil
	case dialer.IsAuth(err):
		return &Failure{Type: TypeSocks5, Message: err.Error(), Cause: CauseProxyAuth}, nil
	case isTimeout(ctxErr, err):
		return &Failure{Type: TypeTimeout, Message: timeoutMessage(err), Cause: CauseTimeout, Allowed: allowed}, again
	case errors.As(err, &pe):
		return &Failure{Type: TypeSocks5, Message: err.Error(), Cause: CauseProxy}, again
	case errors.As(err, &perr):
		return &Failure{Type: TypeSMTP, Message: err.Error(), Cause: CauseProtocol}, nil
	}
	return &Failure{Type: TypeIO, Message: err.Error(), Cause: CauseConnection}, again
}

// stageOf returns the step of the conversation err ended, 0 if unknown.
func stageOf(err error) smtpprobe.Stage {
	var se *smtpprobe.StageError
	if errors.As(err, &se) {
		return se.Stage
	}
	return 0
}

// endedBy returns what ended session r: its error, or the refusal of the
// whole session that the catch-all probe confirmed.
func endedBy(r sessionResult) error {
	if r.err == nil && r.out.Refused != nil {
		return &smtpprobe.StageError{Stage: smtpprobe.StageRcpt, Err: r.out.Refused}
	}
	return r.err
}

// refusal returns the reply with which the server refused a session
// before any recipient (banner, EHLO or MAIL FROM answered 5xx), or nil.
// Such a refusal is about us, not about a mailbox, and every address of
// the domain would get it, so no other MX host is tried.
func refusal(err error) *smtpprobe.Reply {
	var r *smtpprobe.Reply
	if errors.As(err, &r) && r.Code >= 500 {
		return r
	}
	return nil
}

// sessionReply returns the reply in err's chain, if any: the last thing a
// broken session heard from the server.
func sessionReply(err error) *smtpprobe.Reply {
	var r *smtpprobe.Reply
	if errors.As(err, &r) {
		return r
	}
	return nil
}

func isTimeout(ctxErr, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var pe *dialer.ProxyError
	if errors.As(err, &pe) && pe.Kind == dialer.Timeout {
		return true
	}
	return ctxErr != nil
}

func timeoutMessage(err error) string {
	m := err.Error()
	if strings.Contains(m, "timeout") || strings.Contains(m, "deadline") {
		return m
	}
	return "timed out: " + m
}
