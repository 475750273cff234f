package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/webhook"
)

// ErrBadRequest means a message's request options (from_email, smtp_port,
// proxy, ...) cannot be used. Such a message can never succeed: it belongs
// in the dead-letter queue, not in a retry loop.
var ErrBadRequest = errors.New("worker: unusable request options in message")

type state int

const (
	pending     state = iota
	final             // concluded: rec is the result to store
	provisional       // greylisted, temporary, postponed or not due: send again
	unfinished        // not started or interrupted: send again soon
)

type outcome struct {
	state state
	retry *queue.RetryState // provisional only: the item's retry state, Due set
	// final only: the record to store, and what to observe once stored.
	rec *store.Record
	res engine.Result
	d   time.Duration
}

// job is one message being processed.
type job struct {
	w      *Worker
	msg    queue.Message
	tmpl   engine.Request
	hook   *webhook.Target
	budget time.Duration
	id     string // the delivery's queue message id
}

// Process verifies the items of one message and stores their final
// results (see deliver for how a redelivered or duplicated message never
// stores an address twice). The error is non-nil only when the message
// itself is unusable (ErrBadRequest); every per-item problem is counted in
// the Report, and Report.Unfinished > 0 means the message must be
// delivered again.
func (w *Worker) Process(ctx context.Context, msg queue.Message) (Report, error) {
	return w.process(ctx, ctx, msg, "")
}

// process runs verifications and storage under work, and starts a probe
// only while start is alive. The two differ only in the local runner,
// which lets started probes finish after shutdown begins. id is the
// delivery's queue message id ("" when unknown).
func (w *Worker) process(work, start context.Context, msg queue.Message, id string) (Report, error) {
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
	j := &job{w: w, msg: msg, tmpl: tmpl, hook: hook, budget: w.budget(tmpl), id: id}
	return j.deliver(work, start), nil
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

// conclude turns a check's result into the item's outcome: final, with
// the record to store, or provisional when the retry policy wants another
// check. A provisional result the policy calls final (its window is over)
// is stored as it is: unknown, with its last error.
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
	return outcome{state: final, rec: &rec, res: res, d: d}
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
