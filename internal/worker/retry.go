package worker

import (
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/queue"
)

// dueSlack is how early an item may arrive and still be checked: delays
// are whole seconds, rounded up.
const dueSlack = time.Second

// decide asks the retry policy about an item whose check ended with hint,
// given the item's state so far, and returns its next state when it is to
// be checked again.
func (w *Worker) decide(st *queue.RetryState, hint *engine.RetryHint) (*queue.RetryState, bool) {
	now := w.cfg.Now()
	d := w.cfg.Policy.Decide(historyOf(st), hint.Outcome(now))
	if !d.Retry {
		return nil, false
	}
	next := &queue.RetryState{Due: d.At.UTC(), Temporary: d.History.Temporary, Connection: d.History.Connection,
		WaitedMs: d.History.Waited.Milliseconds(), Reason: hint.Kind.String()}
	if !d.History.FirstTemporary.IsZero() {
		t := d.History.FirstTemporary.UTC()
		next.FirstTemporary = &t
	}
	if hint.Kind == retry.Connection {
		next.AvoidProxy = hint.Proxy
	}
	return next, true
}

// historyOf is the policy's history kept in an item's state.
func historyOf(st *queue.RetryState) retry.History {
	if st == nil {
		return retry.History{}
	}
	h := retry.History{Temporary: st.Temporary, Connection: st.Connection, Waited: time.Duration(st.WaitedMs) * time.Millisecond}
	if st.FirstTemporary != nil {
		h.FirstTemporary = *st.FirstTemporary
	}
	return h
}

// notDue marks the pending items that arrived before they are due (SQS
// delays stop at 15 minutes): they are sent on unchecked, which is not an
// attempt.
func (j *job) notDue(outs []outcome) {
	now := j.w.cfg.Now()
	for i, it := range j.msg.Items {
		if outs[i].state == pending && it.Retry != nil && it.Retry.Due.After(now.Add(dueSlack)) {
			outs[i] = outcome{state: provisional, retry: it.Retry}
		}
	}
}

// delayUntil is the delay of a message of items: until the last is due,
// in whole seconds rounded up, within [MinDelay, MaxDelay].
func (w *Worker) delayUntil(items []queue.Item) time.Duration {
	due := items[0].Retry.Due
	for _, it := range items[1:] {
		if it.Retry.Due.After(due) {
			due = it.Retry.Due
		}
	}
	return max(min(queue.ClampDelay(due.Sub(w.cfg.Now())), w.cfg.MaxDelay), MinDelay)
}
