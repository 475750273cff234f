package engine

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

// sessionResult is what one SMTP session brought back.
type sessionResult struct {
	host      string
	out       smtpprobe.Outcome
	err       error
	connected bool       // the limiter let us in and the connection was made
	proxy     *ProxyInfo // the proxy that served the connection, if any
}

// session runs one SMTP session at the tries' current host for the
// addresses at idx, after pausing for backoff and waiting for the
// limiter. Neither wait counts against the smtp timeout.
func (j *job) session(ctx context.Context, t *tries, idx []int, backoff time.Duration) sessionResult {
	r := sessionResult{host: j.hosts[t.n%len(j.hosts)].Name}
	rcpts := make([]string, len(idx))
	for k, i := range idx {
		rcpts[k] = j.answers[i].addr
		j.answers[i].extra.MXTried = append(j.answers[i].extra.MXTried, r.host)
	}
	if backoff > 0 {
		start := time.Now()
		if r.err = sleep(ctx, backoff); r.err != nil {
			return r
		}
		t.waited(start)
	}
	// Resolved and checked before the limiter is asked, so an MX host we
	// refuse (a private address) costs no session of the host's budget.
	lctx, cancel := context.WithDeadline(ctx, t.deadline)
	ips, err := j.v.targets(lctx, r.host)
	cancel()
	if err != nil {
		r.err = err
		return r
	}
	probe := j.ca.claim()
	defer j.ca.settle(probe, &r.out)
	start := time.Now()
	release, err := j.v.acquire(ctx, r.host, rcptsInSession(len(rcpts), probe != ""))
	t.waited(start)
	if err != nil {
		r.err = err
		return r
	}
	defer release()
	sctx, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	conn, err := j.v.connect(sctx, j.rt, r.host, ips)
	if err != nil {
		r.err = err
		return r
	}
	r.proxy = servedBy(conn, j.rt)
	r.connected = true
	for _, i := range idx {
		j.answers[i].extra.Sessions++
	}
	params := smtpprobe.Params{
		HelloName:     j.rt.settings.HelloName,
		FromEmail:     j.rt.settings.FromEmail,
		Recipients:    rcpts,
		CatchAllProbe: probe,
	}
	opts := smtpprobe.ClientOptions{CommandTimeout: j.v.cfg.CommandTimeout, DisablePipelining: j.v.cfg.DisablePipelining}
	r.out, r.err = smtpprobe.Probe(sctx, conn, params, opts) // closes conn
	return r
}

// catchAllAlone asks the catch-all probe in a session of its own when no
// batch session could (each broke before reaching it, or none had an
// accepted address when it carried the probe), after an accepted address
// as Verify asks it. Without this, whether a domain is catch-all would
// depend on how the batch was cut into sessions.
func (j *job) catchAllAlone(ctx context.Context) {
	if _, known := j.ca.answer(); known || j.ca.addr == "" || ctx.Err() != nil {
		return
	}
	i := slices.IndexFunc(j.answers, func(a answer) bool { return a.accepted })
	if i < 0 {
		return
	}
	t := j.newTries()
	t.n = max(0, slices.IndexFunc(j.hosts, func(h mx.Host) bool { return h.Name == j.answers[i].host }))
	j.session(ctx, t, []int{i}, 0) // its answer about the address is not news
}

// rcptsInSession is the RCPT count a session is announced to the limiter
// with: its recipients, plus the catch-all probe when it carries it.
func rcptsInSession(recipients int, catchAll bool) int {
	if catchAll {
		return recipients + 1
	}
	return recipients
}

// catchAll is a domain's one catch-all probe, shared by the sessions of a
// job: the first session that carries it and reaches it answers for every
// address of the domain.
type catchAll struct {
	addr string // the random address; "" when the domain is not probed

	mu     sync.Mutex
	asking bool
	known  bool
	value  *bool
}

// claim returns the address to probe in a session about to start, or ""
// when the answer is known or another session carries the probe.
func (c *catchAll) claim() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addr == "" || c.known || c.asking {
		return ""
	}
	c.asking = true
	return c.addr
}

// settle records what a session that claimed the probe learnt. Only a
// reply counts: a session that broke before the probe, or had no accepted
// recipient to put before it, leaves it to the next session.
func (c *catchAll) settle(claimed string, out *smtpprobe.Outcome) {
	if claimed == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asking = false
	if out.CatchAllReply != nil {
		c.known, c.value = true, out.CatchAll
	}
}

// answer returns the catch-all answer (nil: not catch-all as far as we
// know) and whether the probe was answered at all.
func (c *catchAll) answer() (*bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value, c.known
}

// queue hands out the addresses of a pass to the sessions that ask them.
type queue struct {
	mu  sync.Mutex
	idx []int
}

// take removes and returns up to n addresses.
func (q *queue) take(n int) []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.idx))
	c := slices.Clone(q.idx[:n])
	q.idx = q.idx[n:]
	return c
}

// drain removes and returns every address left.
func (q *queue) drain() []int { return q.take(math.MaxInt) }
