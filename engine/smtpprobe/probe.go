package smtpprobe

import (
	"context"
	"fmt"
	"net"
)

// pipelineGroup is how many RCPTs Probe writes before reading replies when
// the server offers PIPELINING: enough to hide the round trips, well below
// the 100 recipients every server must buffer (RFC 5321 §4.5.3.1.8), and
// small enough that neither side's socket buffer can fill and deadlock the
// exchange (RFC 2920 §3.1 warns about that).
const pipelineGroup = 50

// DefaultHelloName is the EHLO argument when Params.HelloName is empty.
const DefaultHelloName = "localhost"

// Params describe one conversation: one sender and one or more recipients
// of the same domain.
type Params struct {
	HelloName string // EHLO/HELO argument; "" means DefaultHelloName
	FromEmail string // MAIL FROM; "" sends the null reverse-path <>
	// Recipients are asked about in order.
	Recipients []string
	// CatchAllProbe is an address on the same domain that cannot exist
	// (a random local part); "" disables the catch-all probe.
	CatchAllProbe string
}

// RecipientResult is the server's answer about one recipient.
type RecipientResult struct {
	Address     string
	Reply       *Reply
	Class       Class
	Description string // see Classify
}

// Outcome is what one conversation established. Recipients is always a
// prefix of Params.Recipients, in the same order, so the caller knows which
// ones still need asking after an error.
type Outcome struct {
	CanConnect    bool   // the server greeted us with 220
	Greeting      *Reply // the banner, when one arrived
	Recipients    []RecipientResult
	CatchAll      *bool  // nil when not probed or the answer was not definite
	CatchAllReply *Reply // the reply to the catch-all RCPT, when one arrived
	Pipelined     bool   // RCPTs were sent in PIPELINING groups (RFC 2920)
	MailAccepted  bool   // a MAIL FROM was accepted: RCPTs could follow
	RcptsSent     int    // RCPT commands written, answered or not, probe included
	// Refused is set when the server refused the session rather than the
	// mailboxes: every recipient and the catch-all probe, an address that
	// cannot exist, got the same permanent refusal of us (the sender, the
	// EHLO name, the client or policy; Class.AboutUs). It is the probe's
	// reply. Every address of the domain would get it.
	Refused *Reply
}

// Probe runs one SMTP conversation over conn and closes conn before
// returning. The order is:
//
//  1. banner, then EHLO (HELO if EHLO is refused with 5xx);
//  2. MAIL FROM;
//  3. RCPT TO each real recipient, in PIPELINING groups when offered. If
//     the server answers "too many recipients" (X.5.3) after some
//     recipients, Probe starts a new transaction (RSET, MAIL FROM) for the
//     rest (RFC 5321 §4.5.3.1.10);
//  4. only if at least one real recipient was accepted or deferred (4xx),
//     ONE RCPT TO CatchAllProbe. Real addresses go first because
//     Outlook-style servers refuse a second recipient: a refusal of the
//     catch-all RCPT leaves CatchAll nil and does not spoil the real
//     results, and a rejected real address needs no catch-all probe at
//     all. After deferred ones it is asked so that a greylisting server
//     starts the probe's clock with theirs: asked again together later,
//     both pass (the caller keeps the probe address). If the probe is
//     refused as one recipient too many, it is asked again in a new
//     transaction of its own, so the answer does not depend on how many
//     recipients shared the session. If instead every real recipient got
//     the same permanent refusal of us (a sender, HELO, client or policy
//     refusal), the probe is sent to tell a refusal of the mailboxes from
//     a refusal of the session (Outcome.Refused);
//  5. QUIT, whose error is ignored. No RSET first: QUIT aborts the open
//     transaction anyway (RFC 5321 §4.1.1.10), and one round trip less
//     is a shorter probe.
//
// Nothing is sent if an argument contains CR, LF or NUL (ErrInjection).
// The error is non-nil when a reply for some recipient could not be
// obtained: the banner, EHLO or MAIL FROM was refused (the *Reply is in the
// error chain), the server sent 421 or dropped the connection, or ctx
// ended; it is a *StageError naming the step that failed. Outcome then
// holds what was learnt so far, and the caller may
// reconnect for the remaining recipients. Failures after the last
// recipient's reply (catch-all probe, RSET, QUIT) leave CatchAll nil but
// are not errors.
func Probe(ctx context.Context, conn net.Conn, p Params, opts ClientOptions) (out Outcome, err error) {
	c := NewClient(conn, opts)
	defer c.Close()
	defer func() { out.RcptsSent = c.RcptsSent() }()
	if p.HelloName == "" {
		p.HelloName = DefaultHelloName
	}
	if err := p.check(); err != nil {
		return out, err
	}
	g, err := c.Greeting(ctx)
	out.Greeting = g
	if err != nil {
		if g != nil {
			// RFC 5321 §3.1: a client refused at connection time
			// should still say QUIT.
			_ = c.Quit(ctx)
		}
		return out, &StageError{Stage: StageGreeting, Err: err}
	}
	out.CanConnect = true
	if _, err := c.Hello(ctx, p.HelloName); err != nil {
		_ = c.Quit(ctx)
		return out, &StageError{Stage: StageHello, Err: err}
	}
	s := session{c: c, p: p, out: &out}
	err = s.run(ctx) // before reading out: run fills it
	return out, err
}

func (p Params) check() error {
	for _, a := range [...]struct{ what, s string }{
		{"hello name", p.HelloName}, {"sender", p.FromEmail}, {"catch-all address", p.CatchAllProbe},
	} {
		if err := checkArg(a.what, a.s); err != nil {
			return err
		}
	}
	for _, r := range p.Recipients {
		if err := checkArg("recipient", r); err != nil {
			return err
		}
	}
	return nil
}

// session is the state of one Probe after EHLO.
type session struct {
	c        *Client
	p        Params
	out      *Outcome
	utf8     bool   // transactions need SMTPUTF8
	inTxn    int    // RCPTs sent in the current transaction
	anchor   string // the first real recipient accepted, if any
	deferred bool   // a real recipient got a transient answer
}

func (s *session) run(ctx context.Context) error {
	todo := s.p.Recipients
	if len(todo) == 0 {
		_ = s.c.Quit(ctx)
		return nil
	}
	s.utf8 = !isASCII(s.p.CatchAllProbe)
	for _, r := range todo {
		s.utf8 = s.utf8 || !isASCII(r)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := s.recipients(ctx, todo); err != nil {
		return err
	}
	s.catchAll(ctx)
	_ = s.c.Quit(ctx)
	return nil
}

// begin starts a transaction.
func (s *session) begin(ctx context.Context) error {
	mail := s.c.Mail
	if s.utf8 {
		mail = s.c.MailUTF8
	}
	s.inTxn = 0
	if _, err := mail(ctx, s.p.FromEmail); err != nil {
		_ = s.c.Quit(ctx)
		return &StageError{Stage: StageMail, Err: err}
	}
	s.out.MailAccepted = true
	return nil
}

// recipients asks about todo, in groups when pipelining.
func (s *session) recipients(ctx context.Context, todo []string) error {
	_, pipelining := s.c.Extension("PIPELINING")
	for len(todo) > 0 {
		n := 1
		if pipelining {
			n = min(pipelineGroup, len(todo))
		}
		done, next, err := s.group(ctx, todo[:n])
		todo = todo[done:]
		switch {
		case err != nil:
			return &StageError{Stage: StageRcpt, Err: err}
		case next == nextStop && len(todo) > 0:
			_ = s.c.Quit(ctx)
			return &StageError{Stage: StageRcpt, Err: fmt.Errorf("server takes no recipients now: %w", s.last().Reply)}
		case next == nextNewTxn:
			if err := s.c.Reset(ctx); err != nil {
				return &StageError{Stage: StageRcpt, Err: fmt.Errorf("rset: %w", err)}
			}
			if err := s.begin(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// What to do after a group of RCPTs.
const (
	nextSame   = iota
	nextNewTxn // the transaction is full; go on in a new one
	nextStop   // the server refuses even a first recipient
)

// group sends one group of RCPTs and records the answers. It reports how
// many recipients got a final answer and what to do next.
func (s *session) group(ctx context.Context, addrs []string) (done, next int, err error) {
	replies, err := s.c.RcptPipelined(ctx, addrs)
	if len(addrs) > 1 {
		s.out.Pipelined = true
	}
	for i, r := range replies {
		if r.closing() {
			break // 421 is about the session, not the recipient
		}
		class, desc := Classify(r)
		if class == TooManyRecipients && s.inTxn > 0 {
			return i, nextNewTxn, err
		}
		s.inTxn++
		if class == Deliverable && s.anchor == "" {
			s.anchor = addrs[i]
		}
		s.deferred = s.deferred || class == Greylisted || class == Temporary
		s.out.Recipients = append(s.out.Recipients,
			RecipientResult{Address: addrs[i], Reply: r, Class: class, Description: desc})
		done++
		if class == TooManyRecipients {
			// A limit hit by the first recipient of a transaction is
			// a rate limit: more transactions would only repeat it.
			return done, nextStop, err
		}
	}
	return done, nextSame, err
}

func (s *session) last() RecipientResult { return s.out.Recipients[len(s.out.Recipients)-1] }

// catchAll sends the one catch-all RCPT. Any answer but a clear accept or
// a clear "no such user" leaves CatchAll nil (unknown).
func (s *session) catchAll(ctx context.Context) {
	if s.p.CatchAllProbe == "" {
		return
	}
	if s.anchor == "" && !s.deferred {
		s.refusalProbe(ctx)
		return
	}
	r, _ := s.c.Rcpt(ctx, s.p.CatchAllProbe)
	if class, _ := Classify(r); class == TooManyRecipients {
		r = s.catchAllAlone(ctx)
	}
	s.settleCatchAll(r)
}

// settleCatchAll records the catch-all probe's reply r (nil: none came).
func (s *session) settleCatchAll(r *Reply) {
	s.out.CatchAllReply = r
	if r == nil {
		return
	}
	switch class, _ := Classify(r); {
	case class == Deliverable:
		s.out.CatchAll = ptrTo(true)
	case Refuses(r, class):
		s.out.CatchAll = ptrTo(false)
	}
}

// refusalProbe asks the catch-all probe when no recipient was accepted
// because every one got the same permanent refusal of us. If the probe,
// an address no one has, gets it too, the server refuses the session,
// not the mailboxes; if it gets another answer, the refusals were the
// mailboxes' own.
func (s *session) refusalProbe(ctx context.Context) {
	rs := s.out.Recipients
	if len(rs) == 0 || !rs[0].Class.AboutUs() || !rs[0].Reply.Permanent() {
		return
	}
	for i := range rs[1:] {
		if !sameRefusal(&rs[0], &rs[i+1]) {
			return
		}
	}
	r, _ := s.c.Rcpt(ctx, s.p.CatchAllProbe)
	s.settleCatchAll(r)
	if r == nil {
		return
	}
	class, desc := Classify(r)
	if sameRefusal(&rs[0], &RecipientResult{Reply: r, Class: class, Description: desc}) {
		s.out.Refused = r
	}
}

// catchAllAlone asks the catch-all probe in a new transaction of its
// own, after a server refused it as one recipient too many (RFC 5321
// §4.5.3.1.10 lets a server cap the recipients of a transaction, and
// Outlook-style servers take one). Alone, the probe gets the answer it
// would get whatever else shared the session. It returns nil when the new
// transaction cannot start.
func (s *session) catchAllAlone(ctx context.Context) *Reply {
	if err := s.c.Reset(ctx); err != nil {
		return nil
	}
	if err := s.begin(ctx); err != nil {
		return nil
	}
	r, _ := s.c.Rcpt(ctx, s.p.CatchAllProbe)
	return r
}

func ptrTo[T any](v T) *T { return &v }
