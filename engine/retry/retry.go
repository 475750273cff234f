// Package retry is mailprobe's one policy for asking again later about an
// address that got no definite answer: how long to wait, and when to stop
// and call the result final. The CLI, `mailprobe serve` and the Lambda
// worker all decide with it. It is pure: the caller keeps the History
// (with the address, in a queue message for instance) and passes it back
// with the next Outcome.
//
// Within one check the engine may ask again at once (Reacher's retries,
// the greylist_wait pause, one session after a server deferred a whole
// domain); this policy is about the checks that follow, minutes later.
package retry

import (
	"fmt"
	"time"
)

// Kind is what kept a check from a definite answer.
type Kind int

// The kinds. Final is the zero value: nothing to retry.
const (
	Final Kind = iota
	// Greylisted: the server deferred the address, or the catch-all
	// probe, with a transient reply that greylisting servers send.
	Greylisted
	// Temporary: another transient answer, such as a rate limit or a
	// server that deferred the whole domain (421, 452 4.5.3, a 4xx to
	// MAIL FROM).
	Temporary
	// Connection: no answer at all: the connection failed or timed out,
	// or a proxy failed.
	Connection
	// Postponed: the address was not asked at all: the per-MX politeness
	// budget is booked until the time the check names (a caller that can
	// come back later does not wait for it). Not an attempt.
	Postponed
)

var kindNames = [...]string{Final: "final", Greylisted: "greylisted", Temporary: "temporary", Connection: "connection",
	Postponed: "politeness"}

// String names the kind as logs and stored retry states spell it.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Defaults of Policy.
var (
	// DefaultSchedule is the wait after the first, second and later
	// temporary answers when the server names none: greylisting servers
	// let a sender through after one to a few minutes (postgrey: 5).
	DefaultSchedule = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}
)

// Defaults of Policy.
const (
	DefaultWindow            = 30 * time.Minute
	DefaultConnectionRetries = 1
)

// Policy is the retry policy. The zero value is the defaults.
type Policy struct {
	// Schedule is the wait after the n-th temporary answer (the last
	// entry repeats) when the server names none; DefaultSchedule when
	// empty.
	Schedule []time.Duration
	// Window starts at an address's first temporary answer; a retry that
	// would fall after its end is not made, and the last answer is final.
	// Time spent waiting for the per-MX politeness budget is added to it.
	// DefaultWindow when zero.
	Window time.Duration
	// ConnectionRetries is how many checks that ended in a connection
	// failure or timeout are followed by another; DefaultConnectionRetries
	// when zero, none when negative.
	ConnectionRetries int
	// ConnectionDelay is the wait before such a retry; zero retries at
	// once (the engine then goes through another proxy when it has one).
	ConnectionDelay time.Duration
}

// History is what the policy needs to remember about an address between
// checks. The zero value is an address not retried yet.
type History struct {
	FirstTemporary time.Time     // the first temporary answer; zero until then
	Temporary      int           // temporary answers so far
	Connection     int           // connection failures so far
	Waited         time.Duration // politeness waits since FirstTemporary
}

// Outcome is how a check of the address ended.
type Outcome struct {
	Kind Kind
	At   time.Time // when the check ended
	// After is the wait the server named ("try again in 60 seconds"),
	// zero when it named none.
	After time.Duration
	// Waited is the time the check spent waiting for the per-MX
	// politeness budget: not an attempt, and not counted in the window.
	Waited time.Duration
}

// Decision is the policy's answer.
type Decision struct {
	Retry   bool      // false: the outcome is final
	At      time.Time // when to ask again, if Retry
	History History   // to pass with the next outcome
}

// Decide says whether and when to ask again about an address whose check
// ended with o, given its history h.
func (p Policy) Decide(h History, o Outcome) Decision {
	switch o.Kind {
	case Greylisted, Temporary:
		return p.temporary(h, o)
	case Connection:
		return p.connection(h, o)
	case Postponed:
		return p.postponed(h, o)
	}
	return Decision{History: h}
}

// postponed asks again when the politeness budget is booked, whatever the
// history: the address was not asked, and the wait does not count in the
// window.
func (p Policy) postponed(h History, o Outcome) Decision {
	if !h.FirstTemporary.IsZero() {
		h.Waited += o.Waited + max(o.After, 0)
	}
	return Decision{Retry: true, At: o.At.Add(max(o.After, 0)), History: h}
}

// temporary waits the server's stated delay or the schedule's next step,
// within the window.
func (p Policy) temporary(h History, o Outcome) Decision {
	if h.FirstTemporary.IsZero() {
		h.FirstTemporary = o.At
	} else {
		h.Waited += o.Waited
	}
	wait := o.After
	if wait <= 0 {
		wait = p.step(h.Temporary)
	}
	h.Temporary++
	at := o.At.Add(wait)
	if at.After(p.windowEnd(h)) {
		return Decision{History: h}
	}
	return Decision{Retry: true, At: at, History: h}
}

// connection retries a failed connection ConnectionRetries times, and
// never past the window once one has started.
func (p Policy) connection(h History, o Outcome) Decision {
	if !h.FirstTemporary.IsZero() {
		h.Waited += o.Waited
	}
	if h.Connection >= p.connectionRetries() {
		return Decision{History: h}
	}
	h.Connection++
	at := o.At.Add(max(p.ConnectionDelay, 0))
	if !h.FirstTemporary.IsZero() && at.After(p.windowEnd(h)) {
		return Decision{History: h}
	}
	return Decision{Retry: true, At: at, History: h}
}

// step is the wait after the n-th (from 0) temporary answer.
func (p Policy) step(n int) time.Duration {
	s := p.Schedule
	if len(s) == 0 {
		s = DefaultSchedule
	}
	return s[min(n, len(s)-1)]
}

func (p Policy) windowEnd(h History) time.Time {
	w := p.Window
	if w <= 0 {
		w = DefaultWindow
	}
	return h.FirstTemporary.Add(w + h.Waited)
}

func (p Policy) connectionRetries() int {
	switch {
	case p.ConnectionRetries < 0:
		return 0
	case p.ConnectionRetries == 0:
		return DefaultConnectionRetries
	}
	return p.ConnectionRetries
}
