package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailprobe/mailprobe/engine/address"
	"github.com/mailprobe/mailprobe/engine/smtpstep"
)

// IncompleteError is VerifyBatch's error when ctx ended before every
// address was concluded. The results at Indices are partial (like the
// result Verify returns with an error) and must not be stored as final;
// every other result is.
type IncompleteError struct {
	Indices []int // positions in the request slice, ascending
	Err     error // why: ctx's error
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("verify batch: %d addresses not concluded: %v", len(e.Indices), e.Err)
}

// Unwrap returns ctx's error, so errors.Is(err, context.DeadlineExceeded)
// works.
func (e *IncompleteError) Unwrap() error { return e.Err }

// VerifyBatch checks many addresses and returns their results in input
// order. Each result has the same content as Verify's for that address on
// the same servers (only debug timings, debug.mailprobe.sessions and
// mx_tried differ), but the work is shared: the addresses of a domain get
// one MX lookup and one route, and are asked about over a few SMTP
// sessions (banner, EHLO and MAIL FROM once, then one RCPT per address,
// pipelined when the server offers it, and one catch-all probe for the
// whole domain) instead of one session each.
//
// Requests are grouped by domain and by the per-request settings that
// shape a conversation (sender, hello name, port, proxy, timeout, retries,
// methods). The error is nil or an *IncompleteError.
func (v *Verifier) VerifyBatch(ctx context.Context, reqs []Request) ([]Result, error) {
	b := &batch{v: v, start: v.cfg.Now(), results: make([]Result, len(reqs)), final: make([]bool, len(reqs))}
	groups, ls := b.group(reqs)
	// The misc lookups (HTTP) go on while the SMTP work does: neither
	// waits for the other, and only the results are merged afterwards.
	var remote []remoteMisc
	var wg sync.WaitGroup
	wg.Go(func() { remote = b.lookupAll(ctx, ls.todo) })
	parallel(min(v.cfg.BatchDomains, len(groups)), len(groups), func(i int) { b.run(ctx, groups[i]) })
	wg.Wait()
	for _, u := range ls.uses {
		res := &b.results[u.index]
		remote[u.todo].fill(&res.Misc.Value)
		v.finish(res, b.start) // the lookup may have ended last
	}
	var incomplete []int
	for i, ok := range b.final {
		if !ok {
			incomplete = append(incomplete, i)
		}
	}
	if len(incomplete) > 0 {
		return b.results, &IncompleteError{Indices: incomplete, Err: ctx.Err()}
	}
	return b.results, nil
}

// parallel calls fn(i) for every i in [0, n), from at most workers
// goroutines at once, and returns when all calls have.
func parallel(workers, n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				fn(int(i))
			}
		})
	}
	wg.Wait()
}

// maxMiscLookups bounds the misc lookups of a batch in flight at once:
// enough to hide their latency, few enough for HIBP's and Gravatar's
// rate limits.
const maxMiscLookups = 8

// lookup is one distinct misc lookup of a batch.
type lookup struct {
	addr     address.Address
	gravatar bool
}

// lookups lists a batch's distinct lookups and the results that use them.
type lookups struct {
	todo []lookup
	uses []lookupUse
	seen map[lookupKey]int // index in todo
}

type lookupKey struct {
	addr     string
	gravatar bool
}

// lookupUse says that the result at index takes the answer of todo.
type lookupUse struct{ index, todo int }

// add records that the result at index needs a lookup for a; an address
// asked twice in a batch is looked up once.
func (l *lookups) add(index int, a address.Address, gravatar bool) {
	k := lookupKey{addr: a.Address, gravatar: gravatar}
	t, ok := l.seen[k]
	if !ok {
		if l.seen == nil {
			l.seen = make(map[lookupKey]int)
		}
		t = len(l.todo)
		l.seen[k] = t
		l.todo = append(l.todo, lookup{addr: a, gravatar: gravatar})
	}
	l.uses = append(l.uses, lookupUse{index: index, todo: t})
}

// lookupAll runs the lookups, maxMiscLookups at a time, and returns their
// answers in the order of todo.
func (b *batch) lookupAll(ctx context.Context, todo []lookup) []remoteMisc {
	out := make([]remoteMisc, len(todo))
	parallel(min(maxMiscLookups, len(todo)), len(todo), func(i int) {
		out[i] = b.v.lookups(ctx, todo[i].addr, todo[i].gravatar)
	})
	return out
}

// batch is the state of one VerifyBatch call. Each result is written by
// exactly one goroutine, the one running its group.
type batch struct {
	v       *Verifier
	start   time.Time
	results []Result
	final   []bool
}

// group is the addresses of one domain that share a request's settings.
type group struct {
	req     Request // settings; ToEmail is the first member's
	domain  string
	members []member
}

type member struct {
	index int
	addr  address.Address
}

// groupKey holds what makes two requests for one domain share sessions.
type groupKey struct {
	domain, from, hello    string
	job, avoid             string
	port                   int
	proxy                  RequestProxy
	hasProxy               bool
	timeout                Duration
	hasTimeout             bool
	retries                int
	hasRetries             bool
	gmail, hb2b, hb2c, yho MethodName
}

func keyOf(domain string, r Request) groupKey {
	k := groupKey{domain: domain, from: r.FromEmail, hello: r.HelloName, port: r.SMTPPort, job: r.JobID, avoid: r.AvoidProxy,
		gmail: r.GmailVerifMethod, hb2b: r.HotmailB2BVerifMethod, hb2c: r.HotmailB2CVerifMethod, yho: r.YahooVerifMethod}
	if r.Proxy != nil {
		k.proxy, k.hasProxy = *r.Proxy, true
	}
	if r.SMTPTimeout != nil {
		k.timeout, k.hasTimeout = *r.SMTPTimeout, true
	}
	if r.Retries != nil {
		k.retries, k.hasRetries = *r.Retries, true
	}
	return k
}

// group parses every request, concludes the invalid ones at once and
// groups the rest, in order of first appearance. It also lists the misc
// lookups the valid addresses need.
func (b *batch) group(reqs []Request) ([]*group, lookups) {
	byKey := make(map[groupKey]*group)
	var (
		groups []*group
		ls     lookups
	)
	for i, req := range reqs {
		res, a, ok := b.v.begin(req)
		b.results[i] = res
		if !ok {
			b.v.finish(&b.results[i], b.start)
			b.final[i] = true
			continue
		}
		if b.v.wantsLookups(req) {
			ls.add(i, a, req.CheckGravatar)
		}
		k := keyOf(a.Domain, req)
		g := byKey[k]
		if g == nil {
			g = &group{req: req, domain: a.Domain}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.members = append(g.members, member{index: i, addr: a})
	}
	return groups, ls
}

// run is Verify's MX and SMTP steps for a whole group.
func (b *batch) run(ctx context.Context, g *group) {
	v := b.v
	records, mxStep, hint := v.lookupMX(ctx, g.domain)
	smtp := mxStep.Err == nil && mxStep.Value.AcceptsMail
	var (
		rt      route
		serr    *StepError
		answers []smtpstep.Answer
	)
	if smtp {
		rt, serr = v.plan(records.Hosts, g.req)
	}
	if smtp && serr == nil {
		addrs := make([]smtpstep.Address, len(g.members))
		for k, m := range g.members {
			addrs[k] = smtpstep.Address{Addr: m.addr.Address, UTF8: m.addr.RequiresSMTPUTF8()}
			smtpDebug(&b.results[m.index], rt)
		}
		answers = smtpstep.Run(ctx, v.step, rt.step, smtpstep.Domain{Name: g.domain, Job: g.req.JobID, Addrs: addrs})
	}
	live := ctx.Err() == nil
	for k, m := range g.members {
		res := &b.results[m.index]
		res.MX = mxStep
		res.MX.Value.Records = slices.Clone(mxStep.Value.Records)
		b.final[m.index] = live
		switch {
		case hint != nil:
			h := *hint
			res.Retry = &h
		case answers != nil:
			res.SMTP, b.final[m.index] = report(res, rt, answers[k])
		case serr != nil:
			e := *serr
			res.SMTP = Failed[SMTP](&e)
		}
		v.conclude(res, m.addr, b.start)
	}
}
