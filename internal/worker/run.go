package worker

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
)

// postLimit bounds the concurrent webhook posts of one domain group.
const postLimit = 8

// domainGroup is the pending items of one domain in a message, by their
// position in msg.Items, in input order.
type domainGroup struct {
	domain string
	idx    []int
}

// pendingByDomain groups the pending items by domain (queue.Domain), in
// the order the domains first appear. A message may carry several domains
// (queue.Batch packs small ones together); each takes its own slots.
func (j *job) pendingByDomain(outs []outcome) []domainGroup {
	var groups []domainGroup
	pos := make(map[string]int)
	for i, it := range j.msg.Items {
		if outs[i].state != pending {
			continue
		}
		d := queue.Domain(it.Email)
		k, ok := pos[d]
		if !ok {
			k = len(groups)
			pos[d] = k
			groups = append(groups, domainGroup{domain: d})
		}
		groups[k].idx = append(groups[k].idx, i)
	}
	return groups
}

// run processes the pending items, the domains of the message side by
// side, each under its own per-domain limit. A probe starts only once it
// has a slot of its domain and a global slot, and only if the deadline
// leaves it its whole budget: Lambda kills a function at its deadline, and
// a probe cut short would be wasted and leave the SMTP server mid-session.
// Each goroutine writes only the outcomes of its own group.
func (j *job) run(work, start context.Context) []outcome {
	outs := make([]outcome, len(j.msg.Items))
	j.notDue(outs)
	bv, shared := j.w.deps.Verifier.(BatchVerifier)
	shared = shared && !j.w.cfg.PerAddress
	var wg sync.WaitGroup
	for _, g := range j.pendingByDomain(outs) {
		if shared {
			wg.Go(func() { j.runBatch(work, start, bv, g, outs) })
		} else {
			wg.Go(func() { j.runItems(work, start, g, outs) })
		}
	}
	wg.Wait()
	return outs
}

// runItems verifies the group's items one address per session, in input
// order, up to PerDomain at once. Once a probe cannot start (no slot
// before start ended, or no time left), the rest stay unfinished.
func (j *job) runItems(work, start context.Context, g domainGroup, outs []outcome) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for n, i := range g.idx {
		release, ok := j.claim(work, start, g.domain)
		if !ok {
			markUnfinished(outs, g.idx[n:])
			return
		}
		wg.Go(func() { outs[i] = j.item(work, j.msg.Items[i], release) })
	}
}

// claim takes the slots of a probe of domain and checks that it may
// start. On success the caller must call release.
func (j *job) claim(work, start context.Context, domain string) (release func(), ok bool) {
	release, ok = j.w.slots(start, domain)
	// A semaphore may grant a free slot to an ended context, so look at
	// start again before the probe.
	if ok && (start.Err() != nil || !hasTime(work, j.budget)) {
		release()
		return nil, false
	}
	return release, ok
}

func markUnfinished(outs []outcome, idx []int) {
	for _, i := range idx {
		outs[i] = outcome{state: unfinished}
	}
}

func hasTime(ctx context.Context, budget time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) >= budget
}

// item verifies one address and concludes its outcome.
func (j *job) item(ctx context.Context, it queue.Item, release func()) outcome {
	defer release()
	req := j.request(it)
	begin := j.w.cfg.Now()
	res, err := j.w.deps.Verifier.Verify(ctx, req)
	d := j.w.cfg.Now().Sub(begin)
	release() // the slots guard the SMTP servers, not our storage
	if err != nil {
		j.w.deps.Logger.DebugContext(ctx, "Verification interrupted", "job_id", j.msg.JobID, "index", it.Index, "err", err)
		return outcome{state: unfinished}
	}
	return j.conclude(ctx, it, res, d)
}

// request is the check of item it: the message's options, and the job, so
// that every check of the job probes a domain's catch-all with the same
// address.
func (j *job) request(it queue.Item) engine.Request {
	req := j.tmpl
	req.ToEmail, req.JobID = it.Email, j.msg.JobID
	if it.Retry != nil {
		req.AvoidProxy = it.Retry.AvoidProxy
	}
	return req
}

// observeAll counts and logs each final result this delivery stored.
func (j *job) observeAll(ctx context.Context, outs []outcome) {
	for i, o := range outs {
		if o.state == final {
			j.w.observe(ctx, j.msg, j.msg.Items[i], o.res, o.d)
		}
	}
}

// postAll posts the results this delivery stored to the job's webhook,
// postLimit at a time. It runs after they are stored and settled, so a
// result is never posted twice, and ctx bounds it (the Lambda handler ends ctx
// before the deadline).
func (j *job) postAll(ctx context.Context, stored []store.Record) {
	if j.hook == nil {
		return
	}
	var g errgroup.Group
	g.SetLimit(postLimit)
	for _, r := range stored {
		g.Go(func() error {
			j.w.notify(ctx, *j.hook, j.msg.JobID, r.Index, r.Result)
			return nil
		})
	}
	_ = g.Wait() // notify logs its failures, never returns them
}
