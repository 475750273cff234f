package worker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/politeness"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
)

// maxStepItems bounds the items one delivery checks: their results are
// stored together in one item of the store (DynamoDB's limit is 400 KB,
// and a compressed result takes 0.1-1 KB). The rest are sent back at once.
const maxStepItems = 250

// Reasons an item waits, as the job status reports them (besides the retry
// policy's kinds: greylisted, temporary, connection, politeness).
const (
	reasonDeadline = "deadline" // no slot or no time left in this delivery
	reasonRetry    = "retry"    // another delivery's results stand; checked again
)

// deliver is one delivery of j.msg, by message key (store.MessageKey of
// its attempt and indices):
//
//  1. Walk: if the key has an outcome, a delivery settled it. Settled by
//     another delivery (a duplicate of the message): that one owns the
//     rest, and there is nothing to do. By this one (a redelivery after a
//     crash or a failed send): its parts are sent again, and the items it
//     left, if any, go on under their own key (one attempt more).
//  2. Check the pending items, at most maxStepItems.
//  3. Store their final results together under the key (one write; if
//     another delivery stored first, its results stand), then settle the
//     outcome: what is stored, and the parts sent back to the queue (items
//     to retry, postponed for politeness, not due yet, left for lack of
//     time), each part one message delayed until it is due.
//  4. Send the parts, then post the stored results to the webhook.
//
// A crash between any two steps duplicates nothing: the first write of a
// key wins, and a part is a message of its own key.
func (j *job) deliver(work, start context.Context) Report {
	if j.allNotDue() {
		// Sent early (SQS delays stop at 15 minutes): on again as it is,
		// with no write at all.
		sent, unsent := j.sendParts(work, j.msg, []part{{items: j.msg.Items, credits: j.msg.Credits}}, 0, 0)
		return Report{Rescheduled: sent, Unfinished: unsent}
	}
	items, attempt, rep, ok := j.walk(work)
	if !ok || len(items) == 0 {
		return rep
	}
	var later []queue.Item
	if len(items) > maxStepItems {
		items, later = items[:maxStepItems], items[maxStepItems:]
	}
	j.msg.Items, j.msg.Attempt = items, attempt
	// Sessions whose politeness budget is booked for later are not waited
	// for: their items are sent back, delayed until then, with the booking.
	dl := politeness.NewDeferral(j.w.cfg.PolitenessWait, politenessCredits(j.msg.Credits))
	outs := j.run(politeness.WithDeferral(work, dl), start)
	// What was checked is stored even if work was cancelled meanwhile
	// (the function is being stopped), by work's deadline.
	sctx, cancel := detach(work)
	defer cancel()
	sub := j.settle(sctx, outs, later, dl.Booked())
	rep.Done += sub.Done
	rep.Rescheduled += sub.Rescheduled
	rep.Unfinished += sub.Unfinished
	return rep
}

// walk follows the outcomes already settled for the message and returns
// the items left to check and their attempt. ok is false when this
// delivery has nothing more to do: another owns the message, or the
// store failed (then rep says Unfinished).
func (j *job) walk(ctx context.Context) (items []queue.Item, attempt int, rep Report, ok bool) {
	items, attempt = j.msg.Items, j.msg.Attempt
	for len(items) > 0 {
		msg := j.msg
		msg.Items, msg.Attempt = items, attempt
		o, err := j.w.deps.Store.Outcome(ctx, msg.JobID, msg.Key())
		if errors.Is(err, store.ErrNotFound) {
			return items, attempt, rep, true
		}
		if err != nil {
			j.w.storeFailed(ctx, msg.JobID, items[0], "read", err)
			rep.Unfinished += len(items)
			return nil, 0, rep, false
		}
		if j.id != "" && o.By != "" && o.By != j.id {
			// A duplicate of this message settled it; the delivery that
			// did sends its parts.
			rep.Done += len(items)
			rep.Skipped += len(items)
			return nil, 0, rep, false
		}
		byIndex := indexItems(items)
		for _, v := range o.Stored {
			delete(byIndex, v.Index)
		}
		rep.Done += len(o.Stored)
		rep.Skipped += len(o.Stored)
		// If the parts were sent before (only the delete of this message
		// was lost), those copies come first and settle; these, later,
		// find them settled and check nothing.
		sent, unsent := j.sendParts(ctx, msg, partItems(o.Parts, byIndex), 1, j.w.cfg.ResendGrace)
		rep.Rescheduled += sent
		rep.Unfinished += unsent
		for _, p := range o.Parts {
			for _, i := range p.Indices {
				delete(byIndex, i)
			}
		}
		items, attempt = rest(items, byIndex), attempt+1
	}
	return nil, 0, rep, false
}

// settle stores the final results of the checked items, settles the
// outcome of the message's key with the parts it sends back (later: items
// beyond maxStepItems), sends them, and posts the results.
func (j *job) settle(ctx context.Context, outs []outcome, later []queue.Item, booked []politeness.Credit) Report {
	msg := j.msg
	var recs []store.Record
	for _, o := range outs {
		if o.state == final {
			recs = append(recs, *o.rec)
		}
	}
	key := msg.Key()
	stored, created, err := j.w.deps.Store.StoreResults(ctx, msg.JobID, key, recs)
	if err != nil {
		j.w.storeFailed(ctx, msg.JobID, msg.Items[0], "write", err)
		return Report{Unfinished: len(msg.Items) + len(later)}
	}
	storedIdx := make(map[int]bool, len(stored))
	for _, r := range stored {
		storedIdx[r.Index] = true
	}
	parts := withCredits(j.parts(outs, storedIdx, later), booked)
	o, won, err := j.w.deps.Store.Settle(ctx, store.Settled(msg.JobID, key, msg.Attempt, j.id, stored, storeParts(parts)))
	if err != nil {
		j.w.storeFailed(ctx, msg.JobID, msg.Items[0], "settle", err)
		return Report{Unfinished: len(msg.Items) + len(later)}
	}
	rep := Report{Done: len(o.Stored)}
	if !won && j.id != "" && o.By != j.id {
		// A duplicate delivery settled the key first: its parts stand.
		rep.Skipped = rep.Done
		rep.Done += len(msg.Items) + len(later) - len(o.Stored)
		rep.Skipped += len(msg.Items) + len(later) - len(o.Stored)
		return rep
	}
	if !won {
		parts = partItems(o.Parts, indexItems(append(slices.Clone(msg.Items), later...)))
	}
	rep.Rescheduled, rep.Unfinished = j.sendParts(ctx, msg, parts, 1, 0)
	if created && sameIndices(o.Stored, stored) {
		j.observeAll(ctx, outs)
		j.postAll(ctx, stored)
	}
	return rep
}

// sendParts sends each part as a message of its own, hops attempts after
// msg, delayed until its items are due (and grace more). It returns the
// items sent and those not sent.
func (j *job) sendParts(ctx context.Context, msg queue.Message, parts []part, hops int, grace time.Duration) (sent, unsent int) {
	for _, p := range parts {
		next := msg
		next.Items, next.Attempt, next.Credits = p.items, msg.Attempt+hops, p.credits
		delay := min(j.w.delayUntil(p.items)+grace, j.w.cfg.MaxDelay)
		if err := j.w.deps.Queue.Send(ctx, []queue.Message{next}, delay); err != nil {
			j.w.deps.Logger.ErrorContext(ctx, "Items not sent back; the message will be redelivered",
				"job_id", msg.JobID, "items", len(p.items), "err", err)
			j.w.incErrors()
			unsent += len(p.items)
			continue
		}
		sent += len(p.items)
	}
	return sent, unsent
}

// part is items sent back together: one reason, one due time, and the
// politeness budget booked for them.
type part struct {
	items   []queue.Item
	reason  string
	due     time.Time
	credits []queue.Credit
}

// withCredits gives each booking of politeness budget to the part of the
// items it was booked for: the politeness part due when it starts (an
// item's due time is its booking's start). Each booking goes to one part
// only, so it is spent once.
func withCredits(parts []part, booked []politeness.Credit) []part {
	for _, c := range booked {
		for i := range parts {
			if parts[i].reason == retry.Postponed.String() && parts[i].due.Unix() == c.At.Unix() {
				parts[i].credits = append(parts[i].credits, queue.Credit{Host: c.Host, RCPTs: c.RCPTs, At: c.At.UTC()})
				break
			}
		}
	}
	return parts
}

func politenessCredits(cs []queue.Credit) []politeness.Credit {
	out := make([]politeness.Credit, len(cs))
	for i, c := range cs {
		out[i] = politeness.Credit{Host: c.Host, RCPTs: c.RCPTs, At: c.At}
	}
	return out
}

// parts groups the items that were not stored by why they wait and when
// they are due. Items another delivery's stored results left out, and
// items this delivery could not start, are due now.
func (j *job) parts(outs []outcome, stored map[int]bool, later []queue.Item) []part {
	now := j.w.cfg.Now()
	var waiting []queue.Item
	add := func(it queue.Item, reason string, due time.Time) {
		st := queue.RetryState{Due: due}
		if it.Retry != nil {
			st = *it.Retry
			st.Due = due
		}
		st.Reason = reason
		it.Retry = &st
		waiting = append(waiting, it)
	}
	for i, o := range outs {
		it := j.msg.Items[i]
		switch {
		case stored[it.Index]:
		case o.state == provisional:
			it.Retry = o.retry
			if it.Retry.Reason == "" {
				st := *it.Retry
				st.Reason = reasonRetry
				it.Retry = &st
			}
			waiting = append(waiting, it)
		case o.state == final:
			add(it, reasonRetry, now)
		default:
			add(it, reasonDeadline, now.Add(j.w.cfg.RetryDelay))
		}
	}
	for _, it := range later {
		add(it, reasonDeadline, now)
	}
	return byReasonAndDue(waiting)
}

// byReasonAndDue groups items (Retry set) by reason and due second,
// earliest first: one message each.
func byReasonAndDue(items []queue.Item) []part {
	type key struct {
		due    int64
		reason string
	}
	groups := map[key][]queue.Item{}
	var keys []key
	for _, it := range items {
		k := key{it.Retry.Due.Unix(), it.Retry.Reason}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], it)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.due != b.due {
			return int(a.due - b.due)
		}
		return strings.Compare(a.reason, b.reason)
	})
	out := make([]part, len(keys))
	for i, k := range keys {
		g := groups[k]
		due := g[0].Retry.Due
		for _, it := range g[1:] {
			if it.Retry.Due.After(due) {
				due = it.Retry.Due
			}
		}
		out[i] = part{items: g, reason: k.reason, due: due}
	}
	return out
}

// allNotDue reports whether every item arrived before it is due.
func (j *job) allNotDue() bool {
	now := j.w.cfg.Now()
	for _, it := range j.msg.Items {
		if it.Retry == nil || !it.Retry.Due.After(now.Add(dueSlack)) {
			return false
		}
	}
	return true
}

// storeParts is the store's view of parts.
func storeParts(parts []part) []store.Part {
	out := make([]store.Part, len(parts))
	for i, p := range parts {
		out[i] = store.Part{Reason: p.reason, Until: p.due, Indices: make([]int, len(p.items))}
		for k, it := range p.items {
			out[i].Indices[k] = it.Index
		}
	}
	return out
}

// partItems rebuilds the parts of a settled outcome from the items it was
// about (byIndex), for a delivery that sends them again.
func partItems(ps []store.Part, byIndex map[int]queue.Item) []part {
	var out []part
	for _, p := range ps {
		q := part{reason: p.Reason, due: p.Until}
		for _, i := range p.Indices {
			it, ok := byIndex[i]
			if !ok {
				continue
			}
			st := queue.RetryState{}
			if it.Retry != nil {
				st = *it.Retry
			}
			st.Due, st.Reason = p.Until, p.Reason
			it.Retry = &st
			q.items = append(q.items, it)
		}
		if len(q.items) > 0 {
			out = append(out, q)
		}
	}
	return out
}

// detach returns a context that outlives ctx's cancellation but not its
// deadline.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), dl)
	}
	return context.WithCancel(context.WithoutCancel(ctx))
}

func indexItems(items []queue.Item) map[int]queue.Item {
	m := make(map[int]queue.Item, len(items))
	for _, it := range items {
		m[it.Index] = it
	}
	return m
}

// rest is the items still in left, in their order.
func rest(items []queue.Item, left map[int]queue.Item) []queue.Item {
	var out []queue.Item
	for _, it := range items {
		if _, ok := left[it.Index]; ok {
			out = append(out, it)
		}
	}
	return out
}

func sameIndices(vs []store.Verdict, recs []store.Record) bool {
	if len(vs) != len(recs) || len(recs) == 0 {
		return false
	}
	idx := make(map[int]bool, len(recs))
	for _, r := range recs {
		idx[r.Index] = true
	}
	for _, v := range vs {
		if !idx[v.Index] {
			return false
		}
	}
	return true
}
