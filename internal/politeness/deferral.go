package politeness

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// A caller that can come back later (a queue worker, which can send its
// work back to the queue with a delay) need not wait for an MX host's
// RCPT budget: with a Deferral in its context, a limiter whose budget is
// booked for longer than MaxWait books the session's RCPTs for later
// anyway, records that booking as a Credit, and fails Acquire at once with
// a *PostponedError. The caller sends the work back, delayed until then,
// with the credits; when it comes back with them, Acquire spends the
// credits instead of booking again. So a large job on one MX host costs
// one booking and one message per session, however long it waits, and
// nothing sleeps in between.

// Credit is RCPT budget at an MX host booked for a session from At on.
type Credit struct {
	Host  string    `json:"host"`
	RCPTs int       `json:"rcpts"`
	At    time.Time `json:"at"`
}

// creditLife is how long after At a credit may be spent: later, its
// RCPTs would crowd the sessions booked after it.
const creditLife = time.Minute

// PostponedError is Acquire's error when the session's RCPTs are booked
// from Until on, later than the Deferral's MaxWait.
type PostponedError struct {
	Host  string
	Until time.Time
}

func (e *PostponedError) Error() string {
	return fmt.Sprintf("politeness: RCPT budget at %s booked from %s", e.Host, e.Until.UTC().Format(time.RFC3339))
}

// PostponedUntil tells the engine when the session may start.
func (e *PostponedError) PostponedUntil() time.Time { return e.Until }

// Deferral is one caller's permission to be postponed, with the credits it
// brought and those it was given. It is safe for concurrent use by the
// sessions of one piece of work.
type Deferral struct {
	// MaxWait is the longest Acquire sleeps for booked budget; longer
	// bookings postpone the session.
	MaxWait time.Duration

	mu      sync.Mutex
	credits []Credit // to spend
	booked  []Credit // booked and postponed
}

// NewDeferral returns a Deferral that may spend credits.
func NewDeferral(maxWait time.Duration, credits []Credit) *Deferral {
	return &Deferral{MaxWait: maxWait, credits: append([]Credit(nil), credits...)}
}

type deferralKey struct{}

// WithDeferral returns ctx carrying d.
func WithDeferral(ctx context.Context, d *Deferral) context.Context {
	return context.WithValue(ctx, deferralKey{}, d)
}

func deferralFrom(ctx context.Context) *Deferral {
	d, _ := ctx.Value(deferralKey{}).(*Deferral)
	return d
}

// spend takes rcpts RCPTs from the credits at host that are due at now,
// and returns how many it found (at most rcpts).
func (d *Deferral) spend(host string, rcpts int, now time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	got := 0
	for i := range d.credits {
		c := &d.credits[i]
		if c.RCPTs == 0 || hostKey(c.Host) != host || now.Before(c.At.Add(-dueSlack)) || now.After(c.At.Add(creditLife)) {
			continue
		}
		k := min(c.RCPTs, rcpts-got)
		c.RCPTs -= k
		got += k
		if got == rcpts {
			break
		}
	}
	return got
}

// dueSlack is how early a credit may be spent: queue delays are whole
// seconds, rounded up.
const dueSlack = time.Second

func (d *Deferral) book(c Credit) {
	d.mu.Lock()
	d.booked = append(d.booked, c)
	d.mu.Unlock()
}

// Booked returns the credits of the sessions postponed so far.
func (d *Deferral) Booked() []Credit {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Credit(nil), d.booked...)
}

// postpone decides, for budget booked from start, whether the caller
// waits for it (a nil error) or is postponed: it has a Deferral and the
// wait is longer than MaxWait. The booking is then recorded as a credit.
func postpone(ctx context.Context, host string, rcpts int, start, now time.Time) error {
	d := deferralFrom(ctx)
	if d == nil || start.Sub(now) <= d.MaxWait {
		return nil
	}
	d.book(Credit{Host: host, RCPTs: rcpts, At: start})
	return &PostponedError{Host: host, Until: start}
}
