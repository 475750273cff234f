// Package politeness paces SMTP sessions per MX host, so that verifying a
// bulk list is no ruder to a mail server than a trickle of single checks.
// Its limiters implement engine.Limiter.
//
// The knobs, all per MX host (the host name the domain's MX record names):
//
//   - sessions at once (LocalConfig.SessionsPerHost, default 2): what
//     servers such as Postfix (smtpd_client_connection_count_limit) and
//     Exchange Online watch first. Reacher's guide advises 2-3.
//   - RCPT commands per minute (RcptsPerMinute, default 60): the rate at
//     which a server learns about mailboxes from us, whatever the number
//     of sessions; directory-harvest defences count exactly this.
//   - hosts remembered (LocalConfig.MaxHosts, default 10 000): bounds the
//     memory of a long-lived process.
//
// A host that defers a whole domain (421, 452 4.5.3, a 4xx to MAIL FROM) is
// left alone for the wait the caller names (Defer), by every session of the
// process. RCPTs a session announced but did not send (the server ended it
// early) are given back to the host's budget.
//
// Local keeps both limits in one process (the CLI, the local server, one
// Lambda instance). Shared books each MX host's RCPT time across processes
// in a Scheduler (DynamoDB in production: one conditional UpdateItem per
// session) and keeps the session cap per process. Unlimited switches a
// limit off.
//
// A caller that can come back later (the queue worker) puts a Deferral in
// its context: a session whose budget is booked past the Deferral's
// MaxWait is postponed (Acquire fails with a *PostponedError saying when)
// instead of waited for, and its booking travels with the work as a
// Credit, spent when the work comes back (see deferral.go).
package politeness

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/internal/clock"
)

// ErrDeferred is matched (errors.Is) by Acquire's error when an MX host is
// held back until after the caller's deadline: it deferred us (Defer), or
// its shared RCPT budget is booked until then; the error is a
// *DeferredError, which says until when.
var ErrDeferred = errors.New("MX host deferred us past the deadline")

// DeferredError is Acquire's error when an MX host is held back until after
// the caller's deadline: no session was opened, and none should be before
// Until. The engine reads RetryAt to give the addresses a retry then.
type DeferredError struct {
	Host  string
	Until time.Time
	// Booked: the host's RCPT budget is booked until then (Shared), rather
	// than the host deferred us.
	Booked bool
}

func (e *DeferredError) Error() string {
	until := e.Until.UTC().Format(time.RFC3339)
	if e.Booked {
		return "politeness: RCPT budget at " + e.Host + " booked from " + until + ", past the deadline"
	}
	return "politeness: " + e.Host + " deferred us until " + until + ", past the deadline"
}

// Is makes errors.Is(err, ErrDeferred) true.
func (e *DeferredError) Is(target error) bool { return target == ErrDeferred }

// RetryAt is when the host lets us back.
func (e *DeferredError) RetryAt() time.Time { return e.Until }

// Defaults: conservative on purpose. Raising them is a decision about a
// server's patience, best taken per deployment.
const (
	DefaultSessionsPerHost = 2
	DefaultRcptsPerMinute  = 60
	DefaultMaxHosts        = 10000
)

// Unlimited, as a limit, switches it off.
const Unlimited = -1

// Clock is the limiters' time source; tests inject a fake one whose Sleep
// moves its Now forward.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx ends and then returns ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx ends.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	return clock.Sleep(ctx, d)
}

// hostKey normalizes an MX host name, so "MX.Example.COM." and
// "mx.example.com" share limits.
func hostKey(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// limit maps a configured value to the one in force: 0 means def, a
// negative value means none (0).
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
