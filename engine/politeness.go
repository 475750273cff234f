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
	// session is over. The error is non-nil when ctx ended first or the
	// limiter could not decide; no session is opened then.
	Acquire(ctx context.Context, mxHost string, rcpts int) (release func(), err error)
}
