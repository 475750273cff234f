package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/webhook"
)

// ErrBadRequest means a message's request options (from_email, smtp_port,
// proxy, ...) cannot be used. Such a message can never succeed: it belongs
// in the dead-letter queue, not in a retry loop.
var ErrBadRequest = errors.New("worker: unusable request options in message")

// existingLimit bounds the concurrent "is it stored already?" reads of one
// message, so a large message does not flood the store.
const existingLimit = 8

type state int

const (
	pending     state = iota
	done              // a final result is stored
	skipped           // a final result was stored by an earlier delivery
	provisional       // greylisted or temporary: reschedule
	unfinished        // not started, interrupted, or not stored
)

type outcome struct {
	state state
	retry *queue.RetryState // provisional only: the item's retry state, Due set
	// post is the stored result to post to the webhook: set only when this
	// delivery created the result and the message has a webhook.
	post json.RawMessage
}

// job is one message being processed.
type job struct {
	w      *Worker
	msg    queue.Message
	tmpl   engine.Request
	hook   *webhook.Target
	budget time.Duration
}

// Process verifies the items of one message and stores their final
// results. Items already stored by an earlier delivery are skipped, so a
// redelivered message never produces a second result. The error is
// non-nil only when the message itself is unusable (ErrBadRequest); every
// per-item problem is counted in the Report, and Report.Unfinished > 0
// means the message must be delivered again.
func (w *Worker) Process(ctx context.Context, msg queue.Message) (Report, error) {
	return w.process(ctx, ctx, msg)
}

// process runs verifications and storage under work, and starts a probe
// only while start is alive. The two differ only in the local runner,
// which lets started probes finish after shutdown begins.
func (w *Worker) process(work, start context.Context, msg queue.Message) (Report, error) {
	if len(msg.Items) == 0 {
		return Report{}, nil
	}
	tmpl, err := requestTemplate(msg.Request, msg.Items[0].Email)
	if err != nil {
		return Report{}, err
	}
	hook, err := webhook.Parse(msg.Webhook)
	if err != nil {
		// The results are worth more than their notification: verify and
		// store them, and say once why nobody will be told.
		w.deps.Logger.WarnContext(work, "Webhook ignored", "job_id", msg.JobID, "err", err)
		hook = nil
	}
	j := &job{w: w, msg: msg, tmpl: tmpl, hook: hook, budget: w.budget(tmpl)}
	return w.settle(work, msg, j.run(work, start)), nil
}

// requestTemplate decodes the options every item of the message shares.
// Unknown fields are ignored, as Reacher does.
func requestTemplate(raw json.RawMessage, first string) (engine.Request, error) {
	var req engine.Request
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &req); err != nil {
			return req, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	probe := req
	probe.ToEmail = first
	if err := probe.Validate(); err != nil {
		return req, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return req, nil
}

// budget is the time a probe with these options may take at most.
func (w *Worker) budget(req engine.Request) time.Duration {
	if req.SMTPTimeout != nil {
		return req.SMTPTimeout.Std() + w.cfg.ProbeMargin
	}
	return w.cfg.ProbeBudget
}

// existing finds the items a previous delivery already stored.
func (w *Worker) existing(ctx context.Context, msg queue.Message) []outcome {
	outs := make([]outcome, len(msg.Items))
	var g errgroup.Group
	g.SetLimit(existingLimit)
	for i, it := range msg.Items {
		g.Go(func() error {
			rec, err := w.deps.Store.GetResult(ctx, msg.JobID, it.Index)
			if err == nil {
				// A delivery that died between storing a result and
				// counting it left it uncounted; Recount counts it exactly
				// once.
				err = w.deps.Store.Recount(ctx, rec)
			}
			switch {
			case err == nil:
				outs[i].state = skipped
			case !errors.Is(err, store.ErrNotFound):
				// Unknown is not "absent": probing now could be wasted,
				// and the store is likely failing for the put as well.
				w.storeFailed(ctx, msg.JobID, it, "read", err)
				outs[i].state = unfinished
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines never fail
	return outs
}

// slots takes a slot of the domain, then a global one. Domain first: a
// goroutine waiting for its busy domain must not sit on a global slot
// that another domain could use.
func (w *Worker) slots(ctx context.Context, domain string) (release func(), ok bool) {
	releaseDomain, err := w.domains.acquire(ctx, domain)
	if err != nil {
		return nil, false
	}
	if err := w.global.Acquire(ctx, 1); err != nil {
		releaseDomain()
		return nil, false
	}
	return sync.OnceFunc(func() {
		w.global.Release(1)
		releaseDomain()
	}), true
}

// conclude stores a result if it is final, or marks it for a retry when
// the retry policy wants one. A provisional result the policy calls final
// (its window is over) is stored as it is: unknown, with its last error.
func (j *job) conclude(ctx context.Context, it queue.Item, res engine.Result, d time.Duration) outcome {
	if res.Retry != nil {
		if st, again := j.w.decide(it.Retry, res.Retry); again {
			j.w.logVerification(ctx, "Verification rescheduled", j.msg, it, res, d)
			return outcome{state: provisional, retry: st}
		}
	}
	rec, err := j.w.record(j.msg.JobID, it, res, d)
	if err != nil {
		j.w.storeFailed(ctx, j.msg.JobID, it, "encode", err)
		return outcome{state: unfinished}
	}
	stored, created, err := j.w.deps.Store.PutResult(ctx, rec)
	if err != nil {
		j.w.storeFailed(ctx, j.msg.JobID, it, "write", err)
		return outcome{state: unfinished}
	}
	j.w.observe(ctx, j.msg, it, res, d)
	// Only the delivery that created the result notifies: a concurrent
	// duplicate delivery must not post it twice. The caller posts, after
	// the results it is storing are stored.
	if created && j.hook != nil {
		return outcome{state: done, post: stored.Result}
	}
	return outcome{state: done}
}

// record builds the stored row (Reacher's columns) for a final result.
func (w *Worker) record(jobID string, it queue.Item, res engine.Result, d time.Duration) (store.Record, error) {
	b, err := json.Marshal(res)
	if err != nil {
		return store.Record{}, fmt.Errorf("encode result: %w", err)
	}
	backend := res.Debug.BackendName
	if backend == "" {
		backend = w.cfg.BackendName
	}
	norm := res.Normalized
	if norm == "" {
		// Invalid syntax has no normalized form; the lower-cased input
		// still lets "latest result for this address" find it.
		norm = strings.ToLower(strings.TrimSpace(it.Email))
	}
	verdict := res.IsReachable
	if verdict == "" {
		verdict = engine.Unknown
	}
	return store.Record{
		JobID:       jobID,
		Index:       it.Index,
		Input:       it.Email,
		Normalized:  norm,
		IsReachable: string(verdict),
		Result:      b,
		CreatedAt:   w.cfg.Now().UTC(),
		BackendName: backend,
		DurationMs:  d.Milliseconds(),
	}, nil
}

// settle turns the item outcomes into a report, sending the provisional
// items again: one message per due time, each delayed until then.
func (w *Worker) settle(ctx context.Context, msg queue.Message, outs []outcome) Report {
	var (
		rep   Report
		retry []queue.Item
	)
	for i, o := range outs {
		switch o.state {
		case done:
			rep.Done++
		case skipped:
			rep.Done++
			rep.Skipped++
		case provisional:
			it := msg.Items[i]
			it.Retry = o.retry
			retry = append(retry, it)
		default:
			rep.Unfinished++
		}
	}
	if len(retry) == 0 {
		return rep
	}
	if rep.Unfinished > 0 {
		// The whole message comes back anyway; sending these now would
		// check them twice.
		rep.Unfinished += len(retry)
		return rep
	}
	w.recordWaits(ctx, msg.JobID, retry)
	for _, items := range byDue(retry) {
		next := msg
		next.Items = items
		next.Attempt = msg.Attempt + 1
		delay := w.delayUntil(items)
		if err := w.deps.Queue.Send(ctx, []queue.Message{next}, delay); err != nil {
			w.deps.Logger.ErrorContext(ctx, "Reschedule failed; the message will be redelivered",
				"job_id", msg.JobID, "items", len(items), "err", err)
			w.incErrors()
			rep.Unfinished += len(items)
			continue
		}
		rep.Rescheduled += len(items)
	}
	return rep
}

// Backoff is base·2^attempt, or hint when larger, within [MinDelay,
// MaxDelay].
func Backoff(base time.Duration, attempt int, hint time.Duration) time.Duration {
	attempt = max(attempt, 0)
	d := MaxDelay
	if attempt < 32 && base < MaxDelay>>attempt {
		d = base << attempt
	}
	return min(max(d, hint, MinDelay), MaxDelay)
}
