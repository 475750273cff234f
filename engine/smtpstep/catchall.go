package smtpstep

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// The catch-all rule, all of it:
//
//   - Every domain is probed but Gmail's consumer ones (probed).
//   - The probe is one RCPT to an address no mailbox has, asked once per
//     run, after a real address in the same session (smtpprobe.Probe).
//   - Within a job, every run probes a domain with the same address
//     (probeLocal): greylisting servers defer a new (client, sender,
//     recipient) triplet, so a deferred probe can only pass when it is
//     asked again with the address they saw. The address is an HMAC of
//     the job and the domain under a per-deployment secret: stored
//     nowhere, and no server can guess the next job's.
//   - Only an accept (catch-all) or a permanent refusal of the probe for
//     the recipient's own reason (not catch-all: "no such user", or any
//     5xx not about us or a limit, smtpprobe.Refuses) answers the
//     question. A transient reply defers it: it is asked
//     again after greylist_wait, and an accepted address whose probe is
//     still deferred gets the probe's retry. Anything else leaves it
//     unanswered for good.
//   - An accepted address of a domain whose question is unanswered is
//     marked CatchAllUnanswered, which the verdict never calls safe.

// CatchAll is the domain's catch-all answer as it bears on one address.
type CatchAll int

// The answers.
const (
	CatchAllNone       CatchAll = iota // not probed, or the address was not accepted
	CatchAllYes                        // the probe was accepted: acceptance proves nothing
	CatchAllNo                         // the probe is unknown to the server: acceptance is real
	CatchAllUnanswered                 // no definite answer: acceptance is not proof either
)

// probeState is where the domain's probe stands.
type probeState int

const (
	probeNotAsked probeState = iota // no session reached it
	probeDeferred                   // a transient reply: ask again, same address
	probeRefused                    // a reply that says nothing about the domain
	probeYes
	probeNo
	probePostponed // its session was postponed by the politeness limiter
)

// catchAll is a domain's one probe, shared by the sessions of a run: the
// first session that carries it and reaches it answers for every address.
type catchAll struct {
	addr string // "" when the domain is not probed

	mu     sync.Mutex
	state  probeState
	asking bool
	again  bool             // a deferred probe may be asked again
	reply  *smtpprobe.Reply // the last reply to the probe
	until  time.Time        // probePostponed: when its session may start
}

func newCatchAll(env *Env, d Domain) *catchAll {
	if !probed(d.Name) {
		return &catchAll{}
	}
	return &catchAll{addr: probeLocal(env, d) + "@" + d.Name}
}

// probed reports whether a domain gets the catch-all probe. Only Gmail's
// consumer domains are spared it: their mailboxes are never catch-all, and
// one RCPT fewer is one reason fewer to throttle us. Other consumer
// providers (Outlook.com, Yahoo) accept any RCPT; the probe is what shows
// it, making their answers risky instead of falsely safe.
func probed(domain string) bool {
	return domain != "gmail.com" && domain != "googlemail.com"
}

// probeLocal is the probe's 15-character local part: HMAC-SHA256 of the
// job and the domain under the secret, or random outside a job.
func probeLocal(env *Env, d Domain) string {
	if d.Job == "" || len(env.ProbeSecret) == 0 {
		var b [15]byte
		if _, err := io.ReadFull(env.Random, b[:]); err != nil {
			// A broken random source still must not yield a real-looking name.
			return "mailprobe-catch"
		}
		return localPart(b[:])
	}
	m := hmac.New(sha256.New, env.ProbeSecret)
	m.Write([]byte("mailprobe catch-all probe\x00" + d.Job + "\x00" + d.Name))
	return localPart(m.Sum(nil)[:15])
}

// localPart spells b in lower-case letters and digits.
func localPart(b []byte) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(out)
}

// claim returns the address to probe in a session about to start, or ""
// when the probe is answered, deferred until the next round, or carried
// by another session.
func (c *catchAll) claim() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.askable() {
		return ""
	}
	c.asking = true
	return c.addr
}

// open reports whether the domain is probed and its question not answered
// for good: a later session (or run) may still carry the probe.
func (c *catchAll) open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr != "" && (c.state == probeNotAsked || c.state == probeDeferred || c.state == probePostponed)
}

// askable reports whether a session may carry the probe. c.mu is held.
func (c *catchAll) askable() bool {
	return c.addr != "" && !c.asking && (c.state == probeNotAsked || (c.state == probeDeferred && c.again))
}

// settle records what a session that claimed the probe learnt. A session
// that broke before the probe, or had no real address to put before it,
// leaves it to the next one.
func (c *catchAll) settle(claimed string, out *smtpprobe.Outcome) {
	if claimed == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asking = false
	r := out.CatchAllReply
	if r == nil {
		return
	}
	c.reply, c.again = r, false
	switch class, _ := smtpprobe.Classify(r); {
	case class == smtpprobe.Deliverable:
		c.state = probeYes
	case smtpprobe.Refuses(r, class):
		c.state = probeNo
	case r.Temporary():
		c.state = probeDeferred
	default:
		c.state = probeRefused
	}
}

// askAgain lets a deferred probe be asked again; it reports whether one
// is waiting for that.
func (c *catchAll) askAgain() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.again = c.state == probeDeferred
	return c.again
}

// mark applies the answer to an address. Only an accepted mailbox needs
// it (Reacher's is_catch_all): a rejected one is rejected either way. An
// accepted address is not final while its domain's question is open and
// the caller's ctx has ended: the rest of its answer is still to come.
func (c *catchAll) mark(ctx context.Context, a *Answer) {
	if c.addr == "" || a.Failure != nil || !a.Facts.Deliverable {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case probeYes:
		a.CatchAll, a.Facts.CatchAll = CatchAllYes, true
	case probeNo:
		a.CatchAll = CatchAllNo
	case probeDeferred:
		a.CatchAll = CatchAllUnanswered
		if a.Retry == nil {
			class, _ := smtpprobe.Classify(c.reply)
			a.Retry = retryFor(c.reply, class, "catch-all probe deferred")
		}
	case probePostponed:
		// The address is asked again with the probe when the MX host's
		// budget is booked for them, not stored without its answer.
		a.CatchAll = CatchAllUnanswered
		if a.Retry == nil {
			a.Retry = &Retry{Kind: retry.Postponed, After: max(0, time.Until(c.until)), Stated: true, Reason: "politeness", Until: c.until}
		}
	default:
		a.CatchAll = CatchAllUnanswered
	}
	if a.CatchAll == CatchAllUnanswered && ctx.Err() != nil {
		a.Final = false
	}
}

// catchAllAlone asks the probe in a session of its own when no session
// could (each broke before reaching it, or none had a real address to put
// before it), after an accepted address as a one-address run asks it.
// Without this, whether a domain is catch-all would depend on how the
// addresses were cut into sessions.
func (s *step) catchAllAlone(ctx context.Context) {
	s.ca.mu.Lock()
	askable := s.ca.askable()
	s.ca.mu.Unlock()
	if !askable || ctx.Err() != nil {
		return
	}
	i := slices.IndexFunc(s.answers, func(a Answer) bool { return a.Failure == nil && a.Facts.Deliverable })
	if i < 0 {
		return
	}
	t := s.newTries()
	t.n = max(0, slices.IndexFunc(s.rt.Hosts, func(h mx.Host) bool { return h.Name == s.answers[i].Host }))
	r := s.session(ctx, t, []int{i}, 0) // its answer about the address is not news
	if until, ok := postponedUntil(r.err); ok {
		s.ca.mu.Lock()
		s.ca.state, s.ca.until = probePostponed, until
		s.ca.mu.Unlock()
	}
}
