// Package throttle limits how many requests the API accepts per second,
// minute, hour and day, across every instance that shares a Counter.
//
// Windows are fixed (not sliding): a request belongs to the window that
// contains its arrival time, and each window is one counter keyed by the
// window's start. Fixed windows need a single atomic increment per window
// and request, which DynamoDB (UpdateItem ADD) and an in-process map can both
// do; a sliding log would need a read-modify-write that those cannot do
// atomically. The price is the classic burst at a window boundary (up to
// twice the limit across two adjacent windows), which Reacher's own
// throttle has as well.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Counter increments a named counter atomically and returns its new value.
// The counter may be deleted any time after expires; implementations must
// not return a count from an expired counter. The DynamoDB store and Memory
// implement it.
type Counter interface {
	Incr(ctx context.Context, key string, expires time.Time) (int64, error)
}

// Limits are the maximum numbers of accepted requests per window. A zero
// (or negative) field means no limit for that window.
type Limits struct {
	PerSecond int
	PerMinute int
	PerHour   int
	PerDay    int
}

// DefaultLimits are the limits Reacher's production guide recommends:
// 60 per minute and 10 000 per day.
func DefaultLimits() Limits {
	return Limits{PerMinute: 60, PerDay: 10000}
}

// Window names one fixed window length. Its String form is the word used in
// Reacher's message ("per minute").
type Window int

// The windows, shortest first.
const (
	Second Window = iota
	Minute
	Hour
	Day
)

// String returns "second", "minute", "hour" or "day".
func (w Window) String() string {
	switch w {
	case Second:
		return "second"
	case Minute:
		return "minute"
	case Hour:
		return "hour"
	case Day:
		return "day"
	}
	return "window(" + strconv.Itoa(int(w)) + ")"
}

// Length returns the duration of the window (0 for an unknown window).
func (w Window) Length() time.Duration {
	switch w {
	case Second:
		return time.Second
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	case Day:
		return 24 * time.Hour
	}
	return 0
}

// LimitError reports that a request was refused. RetryAfter is the time
// until the exceeded window ends.
type LimitError struct {
	Window     Window
	RetryAfter time.Duration
}

// Error returns Reacher's message, e.g.
// "Rate limit per minute exceeded, please wait 12.3s".
func (e *LimitError) Error() string {
	secs := e.RetryAfter.Seconds()
	return fmt.Sprintf("Rate limit per %s exceeded, please wait %ss", e.Window, strconv.FormatFloat(secs, 'f', 1, 64))
}

// RetryAfterSeconds is the value of an HTTP Retry-After header (RFC 9110
// §10.2.3): whole seconds, rounded up so that a client that waits exactly
// that long lands in the next window, and at least 1.
func (e *LimitError) RetryAfterSeconds() int {
	s := int(math.Ceil(e.RetryAfter.Seconds()))
	return max(s, 1)
}

// Limiter decides whether a request may proceed. It is safe for concurrent
// use when its Counter is.
type Limiter struct {
	counter Counter
	limits  [4]int
	now     func() time.Time
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock makes the Limiter read the time from now (tests inject a fake
// clock).
func WithClock(now func() time.Time) Option {
	return func(l *Limiter) { l.now = now }
}

// New returns a Limiter over c. With all limits zero it allows everything
// without touching c.
func New(c Counter, lim Limits, opts ...Option) *Limiter {
	l := &Limiter{
		counter: c,
		limits:  [4]int{lim.PerSecond, lim.PerMinute, lim.PerHour, lim.PerDay},
		now:     time.Now,
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Allow counts one request. It returns nil when the request may proceed, a
// *LimitError when a window is full, or another error when the counter
// failed (callers decide whether to fail open or closed).
//
// Windows are counted shortest first and counting stops at the first full
// window, so a client hammering a full minute window does not also burn its
// daily allowance with requests that were refused anyway.
func (l *Limiter) Allow(ctx context.Context) error {
	now := l.now()
	for w := Second; w <= Day; w++ {
		limit := l.limits[w]
		if limit <= 0 {
			continue
		}
		start := now.Truncate(w.Length())
		end := start.Add(w.Length())
		n, err := l.counter.Incr(ctx, l.key(w, start), end)
		if err != nil {
			return fmt.Errorf("throttle: count %s window: %w", w, err)
		}
		if n > int64(limit) {
			return &LimitError{Window: w, RetryAfter: end.Sub(now)}
		}
	}
	return nil
}

// keyPrefix starts every counter key, keeping the throttle's counters apart
// from anything else stored in the same table.
const keyPrefix = "throttle"

// key names the counter of one window: keyPrefix, the window and the
// window start in Unix seconds. Truncate works on absolute time, so every
// instance computes the same key whatever its time zone.
func (l *Limiter) key(w Window, start time.Time) string {
	b := make([]byte, 0, len(keyPrefix)+32)
	b = append(b, keyPrefix...)
	b = append(b, ':')
	b = append(b, w.String()...)
	b = append(b, ':')
	b = strconv.AppendInt(b, start.Unix(), 10)
	return string(b)
}

// IsLimit reports whether err is a *LimitError and returns it.
func IsLimit(err error) (*LimitError, bool) {
	var le *LimitError
	ok := errors.As(err, &le)
	return le, ok
}
