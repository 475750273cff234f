package engine

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// Error types of the smtp step. They extend Reacher's (Timeout, Socks5,
// IOError) with precise kinds; the API documents every one.
const (
	ErrTypeTimeout        = "Timeout"
	ErrTypeSocks5         = "Socks5"
	ErrTypeProxyAuth      = "ProxyAuth"
	ErrTypePrivateAddress = "PrivateAddress"
	ErrTypeIO             = "IOError"
	ErrTypeProtocol       = "ProtocolError"
	ErrTypeBlocked        = "Blocked"
	ErrTypeGreylisted     = "Greylisted"
	ErrTypeTemporary      = "Temporary"
	ErrTypeSMTP           = "SmtpError"
	ErrTypeResolve        = "ResolveError"
)

// defaultRetryAfter is used when a connection-level failure leaves no reply
// that says how long to wait.
const defaultRetryAfter = 5 * time.Minute

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

// recipientOutcome turns the server's answer about one recipient into the
// smtp object. is_catch_all is filled in later by withCatchAll, once the
// domain's catch-all probe has an answer.
func recipientOutcome(rr smtpprobe.RecipientResult) (Step[SMTP], *RetryHint) {
	s := SMTP{CanConnectSMTP: true}
	switch rr.Class {
	case smtpprobe.Deliverable:
		s.IsDeliverable = true
	case smtpprobe.Invalid:
	case smtpprobe.FullInbox:
		s.HasFullInbox = true
	case smtpprobe.Disabled:
		s.IsDisabled = true
	default:
		return replyFailure(rr.Reply, rr.Class, rr.Description)
	}
	return OK(s), nil
}

// withCatchAll marks a deliverable mailbox of a catch-all domain: its
// acceptance then proves nothing (Reacher's is_catch_all).
func withCatchAll(step Step[SMTP], catchAll *bool) Step[SMTP] {
	if step.Err == nil && step.Value.IsDeliverable {
		step.Value.IsCatchAll = catchAll != nil && *catchAll
	}
	return step
}

// replyFailure maps a reply that says nothing definite about the mailbox to
// an error object, with a retry hint for temporary conditions. class and
// desc are what smtpprobe.Classify says of r: a RCPT reply comes
// classified already, and reading its text again would double the work.
func replyFailure(r *smtpprobe.Reply, class smtpprobe.Class, desc string) (Step[SMTP], *RetryHint) {
	msg := r.Error()
	switch class {
	case smtpprobe.Blocked, smtpprobe.NeedsRDNS:
		return Failed[SMTP](&StepError{Type: ErrTypeBlocked, Message: msg, Description: desc}), nil
	case smtpprobe.Greylisted:
		return Failed[SMTP](&StepError{Type: ErrTypeGreylisted, Message: msg}),
			&RetryHint{After: smtpprobe.RetryAfter(r, class), Reason: "greylisted"}
	case smtpprobe.Temporary, smtpprobe.TooManyRecipients:
		return Failed[SMTP](&StepError{Type: ErrTypeTemporary, Message: msg}),
			&RetryHint{After: smtpprobe.RetryAfter(r, class), Reason: "temporary failure"}
	}
	return Failed[SMTP](&StepError{Type: ErrTypeSMTP, Message: msg, Description: desc}), nil
}

// sessionFailure is replyFailure for a reply that ended a session (a
// refused banner, EHLO or MAIL FROM, or a 421), which no one classified.
func sessionFailure(r *smtpprobe.Reply) (Step[SMTP], *RetryHint) {
	class, desc := smtpprobe.Classify(r)
	return replyFailure(r, class, desc)
}

// failure maps the last connection-level error to an error object.
// ctxErr is non-nil when the time for the step ran out (or the caller's
// ctx ended): every failure then counts as a timeout.
func failure(ctxErr, err error) (Step[SMTP], *RetryHint) {
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
	retry := &RetryHint{After: defaultRetryAfter, Reason: "connection failure"}
	switch {
	case errors.As(err, &reply):
		return sessionFailure(reply)
	case errors.Is(err, dialer.ErrPrivateAddress):
		return Failed[SMTP](&StepError{Type: ErrTypePrivateAddress, Message: err.Error()}), nil
	case dialer.IsAuth(err):
		return Failed[SMTP](&StepError{Type: ErrTypeProxyAuth, Message: err.Error()}), nil
	case isTimeout(ctxErr, err):
		return Failed[SMTP](&StepError{Type: ErrTypeTimeout, Message: timeoutMessage(err)}), retry
	case errors.As(err, &pe):
		return Failed[SMTP](&StepError{Type: ErrTypeSocks5, Message: err.Error()}), retry
	case errors.As(err, &perr):
		return Failed[SMTP](&StepError{Type: ErrTypeProtocol, Message: err.Error()}), nil
	}
	return Failed[SMTP](&StepError{Type: ErrTypeIO, Message: err.Error()}), retry
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

// randomLocal returns a 15-character local part that no real mailbox has,
// for the catch-all probe.
func (v *Verifier) randomLocal() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [15]byte
	if _, err := v.cfg.Random.Read(b[:]); err != nil {
		// A broken random source still must not yield a real-looking name.
		copy(b[:], "mailprobe-catch")
		return string(b[:])
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
