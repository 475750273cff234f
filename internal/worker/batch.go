package worker

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/engine"
)

// BatchVerifier checks many addresses over shared SMTP sessions (one
// banner, EHLO and MAIL FROM, then a RCPT per address); *engine.Verifier
// implements it. Its error is nil or an *engine.IncompleteError naming the
// results that are not final.
type BatchVerifier interface {
	VerifyBatch(ctx context.Context, reqs []engine.Request) ([]engine.Result, error)
}

// storeLimit bounds the concurrent result writes of one message.
const storeLimit = 8

// storeMargin is kept free before the deadline to store what the batch
// concluded: the engine stops its sessions this long before ctx's deadline.
const storeMargin = 5 * time.Second

// runBatch verifies the message's pending items in one VerifyBatch call:
// a message carries addresses of one domain, so they share SMTP sessions.
// It holds one slot of the domain and one global slot; the engine's
// per-MX limiter bounds the sessions it opens. Items the batch could not
// conclude before the deadline are unfinished, so SQS delivers the message
// again and only they are probed again.
func (j *job) runBatch(work, start context.Context, bv BatchVerifier, outs []outcome) {
	var todo []int
	for i := range outs {
		if outs[i].state == pending {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return
	}
	release, ok := j.w.slots(start, j.domain)
	if ok && (start.Err() != nil || !hasTime(work, j.budget)) {
		release()
		ok = false
	}
	if !ok {
		markPending(outs, unfinished)
		return
	}
	reqs := make([]engine.Request, len(todo))
	for k, i := range todo {
		reqs[k] = j.tmpl
		reqs[k].ToEmail = j.msg.Items[i].Email
	}
	vctx, cancel := context.WithCancel(work)
	if dl, ok := work.Deadline(); ok {
		vctx, cancel = context.WithDeadline(work, dl.Add(-storeMargin))
	}
	results, err := bv.VerifyBatch(vctx, reqs)
	cancel()
	release()
	notFinal := make(map[int]bool)
	var inc *engine.IncompleteError
	if errors.As(err, &inc) {
		for _, k := range inc.Indices {
			notFinal[k] = true
		}
	} else if err != nil {
		markPending(outs, unfinished)
		return
	}
	var g errgroup.Group
	g.SetLimit(storeLimit)
	for k, i := range todo {
		if notFinal[k] {
			outs[i] = outcome{state: unfinished}
			continue
		}
		g.Go(func() error {
			outs[i] = j.conclude(work, j.msg.Items[i], results[k], results[k].Debug.Duration.Std())
			return nil
		})
	}
	_ = g.Wait() // conclude reports through outs, never an error
}
