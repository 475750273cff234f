// Package smtpstep is the SMTP step of a verification: for the addresses
// of one domain that share a route, it runs SMTP sessions, judges every
// answer and decides what to ask again within the check. It reads top to
// bottom:
//
//	Run            step.go     ask every address, retry within the check, settle the catch-all
//	  ask          ask.go      sessions over a queue of addresses, with tries per address
//	    session    session.go  one SMTP session: resolve, wait for politeness, connect, probe
//	  judge        judge.go    what a reply or a failure says about an address
//	  retry        retry.go    what is asked again within the check, and when
//	  catch-all    catchall.go the domain's catch-all probe: who is probed, how it counts
//
// The engine plans the Route from its configuration and the request and
// turns the Answers into Reacher's smtp object. Nothing here calls back
// into the engine.
package smtpstep

import (
	"context"
	"io"
	"net/netip"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// Route is where a domain's sessions go and how.
type Route struct {
	Hosts     []mx.Host // the domain's MX hosts, in preference order
	HelloName string
	FromEmail string
	Port      int
	// Timeout bounds the servers' time for one address: every MX host and
	// every try. Our own waits (politeness, backoff) do not count.
	Timeout time.Duration
	// Retries is how many more times the MX hosts are walked when no
	// server could be reached (Reacher's retries).
	Retries  int
	Dialer   dialer.Dialer
	Proxy    *dialer.Proxy // the proxy of every session; nil when direct or rotating
	Rotating bool          // Dialer is a rotation: the proxy is known per connection
}

// Resolver finds the addresses of an MX host. Its contract is mx's: at
// least one address or an error.
type Resolver interface {
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// Limiter paces sessions per MX host (see engine.Limiter).
type Limiter interface {
	Acquire(ctx context.Context, mxHost string, rcpts int) (release func(), err error)
}

// Env holds what every run shares: collaborators and knobs. The engine
// builds it once.
type Env struct {
	Resolver Resolver
	// CheckAddr refuses MX addresses that must not be dialled; nil
	// allows every address.
	CheckAddr func(netip.Addr) error
	Limiter   Limiter // nil: no limits
	Client    smtpprobe.ClientOptions
	// MaxRecipientsPerSession caps the addresses of one session, and
	// SessionsPerDomain the sessions of one run at once.
	MaxRecipientsPerSession int
	SessionsPerDomain       int
	// GreylistWait, when positive, is how long the run waits before
	// asking again, once, about addresses that got a temporary answer.
	GreylistWait time.Duration
	Random       io.Reader // the catch-all probe's local part
}

// Address is one address to ask about.
type Address struct {
	Addr string
	UTF8 bool // needs SMTPUTF8, so never shares a transaction with ASCII ones
}

// Answer is what the step learnt about one address.
type Answer struct {
	Facts   Facts    // the mailbox as the server described it; valid when Failure is nil
	Failure *Failure // why there is no definite answer
	Retry   *Retry   // asking later may give one
	// Host is the MX host that answered; Proxy served the last session
	// that connected (nil when direct or none connected).
	Host      string
	Proxy     *dialer.Proxy
	LastReply string   // the last reply that concerned the address
	MXTried   []string // MX hosts of the sessions that carried the address
	Sessions  int      // sessions that connected with the address on board
	// Final is true when the answer was reached while ctx was live: one
	// cut short by ctx must not be stored as final.
	Final bool
}

// Facts is Reacher's smtp object.
type Facts struct {
	CanConnect  bool
	FullInbox   bool
	CatchAll    bool
	Deliverable bool
	Disabled    bool
}

// Failure is Reacher's error object for the smtp step.
type Failure struct {
	Type        string
	Message     string
	Description string // IpBlacklisted or NeedsRDNS, as Reacher
}

// Retry says that an answer is provisional: asking again later may give a
// definite one.
type Retry struct {
	After  time.Duration
	Reason string
}

// Run is the SMTP step for addrs, all of domain, over route rt: it asks
// about every address, asks again once after env.GreylistWait those that
// got a temporary answer, and settles the domain's catch-all probe. The
// answers are in the order of addrs.
func Run(ctx context.Context, env *Env, rt Route, domain string, addrs []Address) []Answer {
	s := newStep(env, rt, domain, addrs)
	s.ask(ctx, s.all())
	s.askGreylistedAgain(ctx)
	if s.batch {
		s.catchAllAlone(ctx)
	}
	s.conclude()
	return s.answers
}

// step is one Run.
type step struct {
	env     *Env
	rt      Route
	addrs   []Address
	answers []Answer
	ca      catchAll
	batch   bool // several addresses: sessions carry many, in parallel
}

func newStep(env *Env, rt Route, domain string, addrs []Address) *step {
	s := &step{env: env, rt: rt, addrs: addrs, answers: make([]Answer, len(addrs)), batch: len(addrs) > 1}
	s.ca = newCatchAll(env.Random, domain)
	return s
}

// all lists the indices of every address.
func (s *step) all() []int {
	idx := make([]int, len(s.addrs))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// conclude applies the catch-all answer and the retry hints.
func (s *step) conclude() {
	for i := range s.answers {
		s.ca.mark(&s.answers[i])
	}
}
