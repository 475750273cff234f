package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// Backoff before reconnecting to a server that broke a session: short, and
// never more than a tenth of the smtp timeout.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = 2 * time.Second
)

// job is the SMTP step for the addresses of one domain that share a route.
// Verify runs one with a single address (one session per address, the
// Reacher way); VerifyBatch runs one per domain, asking many addresses per
// session. Both take their decisions here (which MX host next, when to
// give up, what a reply means), so an address gets the same result either
// way.
type job struct {
	v       *Verifier
	rt      route
	hosts   []mx.Host
	answers []answer
	ca      catchAll
	batch   bool // several addresses: sessions carry many, in parallel
}

// answer is what the job learnt about one address.
type answer struct {
	addr     string
	utf8     bool // needs SMTPUTF8, so never shares a transaction with ASCII ones
	extra    *DebugExtra
	step     Step[SMTP]
	hint     *RetryHint
	host     string     // the MX host that answered
	proxy    *ProxyInfo // the proxy of the last session that connected
	accepted bool
	final    bool // concluded while the caller's ctx was live
}

// newJob prepares the SMTP step of addrs (all of domain), whose debug
// details go to extras.
func (v *Verifier) newJob(rt route, hosts []mx.Host, domain string, addrs []string, utf8 []bool, extras []*DebugExtra) *job {
	j := &job{v: v, rt: rt, hosts: hosts, answers: make([]answer, len(addrs)), batch: len(addrs) > 1}
	for i, a := range addrs {
		j.answers[i] = answer{addr: a, utf8: utf8[i], extra: extras[i]}
	}
	if probesCatchAll(domain) {
		j.ca.addr = v.randomLocal() + "@" + domain
	}
	return j
}

// probesCatchAll reports whether a domain gets the catch-all probe. Only
// Gmail's consumer domains are spared it: their mailboxes are never
// catch-all, and one RCPT fewer is one reason fewer to throttle us. Other
// consumer providers (Outlook.com, Yahoo) accept any RCPT; the probe is
// what shows it, making their answers risky instead of falsely safe.
func probesCatchAll(domain string) bool {
	return domain != "gmail.com" && domain != "googlemail.com"
}

// reportProxy puts in res's debug details the proxy that served the last
// session about the address, when the route's rotation chose it per
// connection; none when no session connected.
func (a *answer) reportProxy(res *Result, rt route) {
	d := res.Debug.SMTP.VerifMethod.VerifMethod
	if !rt.rotating || d == nil {
		return
	}
	d.Proxy = nil
	if a.proxy != nil {
		p := *a.proxy
		d.Proxy = &p
	}
}

// run asks about every address, retries those that got a temporary
// answer once after GreylistWait (when set), and settles the catch-all.
func (j *job) run(ctx context.Context) {
	all := make([]int, len(j.answers))
	for i := range all {
		all[i] = i
	}
	j.pass(ctx, all)
	var again []int
	for i, a := range j.answers {
		if a.hint != nil {
			again = append(again, i)
		}
	}
	if len(again) > 0 && j.v.cfg.GreylistWait > 0 && ctx.Err() == nil {
		if err := sleep(ctx, j.v.cfg.GreylistWait); err != nil {
			for _, i := range again {
				j.answers[i].final = false // the retry they were due never ran
			}
		} else {
			j.pass(ctx, again)
		}
	}
	if j.batch {
		j.catchAllAlone(ctx)
	}
	value, _ := j.ca.answer()
	for i := range j.answers {
		a := &j.answers[i]
		a.step = withCatchAll(a.step, value)
		if a.hint != nil {
			a.extra.RetryAfterS = int(a.hint.After / time.Second)
		}
	}
}

// pass asks about the addresses at idx: SessionsPerDomain workers take
// chunks from a shared queue until it is empty.
func (j *job) pass(ctx context.Context, idx []int) {
	ascii := slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return j.answers[i].utf8 })
	utf8 := slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return !j.answers[i].utf8 })
	for _, part := range [][]int{ascii, utf8} {
		if len(part) == 0 {
			continue
		}
		q := &queue{idx: part}
		workers := 1
		if j.batch {
			workers = min(j.v.cfg.SessionsPerDomain, len(part))
		}
		per := min(j.v.cfg.MaxRecipientsPerSession, (len(part)+workers-1)/workers)
		if workers == 1 {
			j.work(ctx, q, per)
			continue
		}
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() { j.work(ctx, q, per) })
		}
		wg.Wait()
	}
}

func (j *job) work(ctx context.Context, q *queue, per int) {
	for c := q.take(per); len(c) > 0; c = q.take(per) {
		j.chunk(ctx, c, q)
	}
}

// tries mirrors Verify's walk over the MX hosts in preference order,
// Retries+1 times, for the address at the head of a chunk. It starts
// afresh whenever a session brings an answer: the next address has had no
// try of its own yet.
type tries struct {
	n         int // sessions counted: host n%len(hosts), attempt n/len(hosts)
	lastErr   error
	lastReply string
	proxy     *ProxyInfo // of the last session that connected
	greeted   bool       // a server greeted us: failures are the head address's own
	deadline  time.Time  // the smtp timeout; our own waits push it back
}

func (j *job) newTries() *tries {
	return &tries{deadline: time.Now().Add(j.rt.settings.Timeout)}
}

// waited moves the deadline back by the time spent since start waiting
// for the limiter or a backoff: the timeout bounds the servers, not us.
func (t *tries) waited(start time.Time) { t.deadline = t.deadline.Add(time.Since(start)) }

// note records a session that broke before any answer. A host refused
// for its private address does not hide an earlier, more telling failure
// of another host: the result is PrivateAddress only when no host could
// be tried at all.
func (t *tries) note(r sessionResult) {
	if t.lastErr == nil || !errors.Is(r.err, dialer.ErrPrivateAddress) {
		t.lastErr = r.err
	}
	if r.proxy != nil {
		t.proxy = r.proxy
	}
	if rep := sessionReply(r.err); rep != nil {
		t.lastReply = rep.Error()
	}
	t.greeted = t.greeted || r.out.CanConnect
}

// chunk asks about the addresses at c, over as many sessions as it takes.
// A session that breaks after some answers is followed, after a backoff,
// by another for the rest (RFC 5321 §3.8: a 421 or a dropped connection
// ends the session, not the work); one that breaks before any answer is
// retried with the head address alone, and only then counts as a try.
func (j *job) chunk(ctx context.Context, c []int, q *queue) {
	size, broken := len(c), 0
	t := j.newTries()
	for len(c) > 0 {
		if ctx.Err() != nil || t.n >= (j.rt.settings.Retries+1)*len(j.hosts) || !time.Now().Before(t.deadline) {
			c = j.giveUp(ctx, c, q, t)
			t = j.newTries()
			continue
		}
		n := min(size, len(c))
		r := j.session(ctx, t, c[:n], backoff(broken, j.rt.settings.Timeout))
		for i, rr := range r.out.Recipients {
			j.answer(c[i], rr, r)
		}
		c = c[len(r.out.Recipients):]
		switch {
		case r.err == nil:
			size, broken, t = min(2*size, j.v.cfg.MaxRecipientsPerSession), 0, j.newTries()
		case len(r.out.Recipients) > 0:
			broken, t = broken+1, j.newTries()
		case refusal(r.err) != nil || (!r.connected && dialer.IsAuth(r.err)):
			// Neither another MX host nor a retry cures a refusal of
			// us or a proxy refusing our credentials. (A private MX
			// address is not such a failure: the next host may be
			// public.)
			t.note(r)
			j.failAll(ctx, slices.Concat(c, q.drain()), r.err, t)
			return
		case r.out.CanConnect && n > 1:
			t.note(r)
			size, broken = 1, broken+1
		default:
			t.note(r)
			t.n, broken = t.n+1, 0
		}
	}
}

// backoff is the pause before the next session after broken sessions in
// a row: exponential, bounded by backoffMax and a tenth of the timeout.
func backoff(broken int, timeout time.Duration) time.Duration {
	if broken == 0 {
		return 0
	}
	return min(backoffBase<<min(broken-1, 10), backoffMax, timeout/10)
}

// giveUp ends the tries of the head of c with the last error, as Verify
// does, and returns the addresses still to ask. When no server greeted us,
// the failure is the hosts' or the proxy's, which every address of the
// domain would meet: all of c and of the queue get it.
func (j *job) giveUp(ctx context.Context, c []int, q *queue, t *tries) []int {
	ctxErr := ctx.Err()
	if ctxErr == nil && !time.Now().Before(t.deadline) {
		ctxErr = context.DeadlineExceeded
	}
	if t.greeted && ctx.Err() == nil {
		j.fail(ctx, c[0], ctxErr, t)
		return c[1:]
	}
	for _, i := range slices.Concat(c, q.drain()) {
		j.fail(ctx, i, ctxErr, t)
	}
	return nil
}

// failAll gives every address at idx the answer of a session refused
// outright (a 5xx before any recipient) or of a fatal dial error.
func (j *job) failAll(ctx context.Context, idx []int, err error, t *tries) {
	r := refusal(err)
	if r == nil {
		for _, i := range idx {
			j.fail(ctx, i, nil, t)
		}
		return
	}
	class, desc := smtpprobe.Classify(r)
	for _, i := range idx {
		a := &j.answers[i]
		// Each result gets its own error object: results do not share
		// memory.
		a.step, a.hint = replyFailure(r, class, desc)
		a.extra.LastReply = r.Error()
		a.proxy, a.final = t.proxy, ctx.Err() == nil
	}
}

func (j *job) fail(ctx context.Context, i int, ctxErr error, t *tries) {
	a := &j.answers[i]
	a.step, a.hint = failure(ctxErr, t.lastErr)
	if t.lastReply != "" {
		a.extra.LastReply = t.lastReply
	}
	a.proxy, a.final = t.proxy, ctx.Err() == nil
}

// answer records the server's reply about address i in session r. A
// reply is a fact even if ctx ends afterwards, so it is final.
func (j *job) answer(i int, rr smtpprobe.RecipientResult, r sessionResult) {
	a := &j.answers[i]
	a.step, a.hint = recipientOutcome(rr)
	if rr.Reply != nil {
		a.extra.LastReply = rr.Reply.Error()
	}
	a.host, a.proxy, a.final = r.host, r.proxy, true
	a.accepted = rr.Class == smtpprobe.Deliverable
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
