package engine

import "context"

// Limiter paces the SMTP sessions the engine opens to each MX host, so a
// bulk job stays as polite to a mail server as a trickle of single checks:
// a cap on concurrent sessions and on RCPT commands per minute, typically.
// internal/politeness has an in-process and a cross-process implementation.
type Limiter interface {
	// Acquire waits until a session to mxHost (an MX host name as
	// published, trailing dot included) that will send rcpts RCPT
	// commands may start. The caller calls release exactly once when the
	// session is over, with the RCPT commands it did send: the rest are
	// given back, since a session the server ended early must not cost
	// the host's budget what it never asked. The error is non-nil when
	// ctx ended first or the limiter could not decide; no session is
	// opened then.
	Acquire(ctx context.Context, mxHost string, rcpts int) (release func(sent int), err error)
}

// A Limiter that also implements Defer(mxHost string, until time.Time)
// is told when an MX host defers a whole domain (421, 452 4.5.3, a 4xx to
// MAIL FROM): it then starts no session to that host before until, for
// any domain or check, and the wait counts as politeness, not as the
// check's time.
