package worker

import (
	"context"
	"errors"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// BatchVerifier checks many addresses over shared SMTP sessions (one
// banner, EHLO and MAIL FROM, then a RCPT per address); *engine.Verifier
// implements it. Its error is nil or an *engine.IncompleteError naming the
// results that are not final.
type BatchVerifier interface {
	VerifyBatch(ctx context.Context, reqs []engine.Request) ([]engine.Result, error)
}

// storeMargin is kept free before the deadline to store what the batch
// concluded: the engine's sessions end this long before ctx's deadline.
const storeMargin = 5 * time.Second

// runBatch verifies the group's items (one domain of the message) in one
// VerifyBatch call, so they share SMTP sessions. It holds one slot of the
// domain and one global slot; the engine's per-MX limiter bounds the
// sessions it opens. Items the batch could not conclude before the
// deadline are unfinished, so the message is delivered again and only they
// are checked again. The message's results are stored together once
// every group is done.
func (j *job) runBatch(work, start context.Context, bv BatchVerifier, g domainGroup, outs []outcome) {
	release, ok := j.claim(work, start, g.domain)
	if !ok {
		markUnfinished(outs, g.idx)
		return
	}
	reqs := make([]engine.Request, len(g.idx))
	for k, i := range g.idx {
		reqs[k] = j.request(j.msg.Items[i])
	}
	results, err := verifyBatch(work, bv, reqs)
	release()
	notFinal := make(map[int]bool)
	var inc *engine.IncompleteError
	if errors.As(err, &inc) {
		for _, k := range inc.Indices {
			notFinal[k] = true
		}
	} else if err != nil {
		markUnfinished(outs, g.idx)
		return
	}
	for k, i := range g.idx {
		if notFinal[k] {
			outs[i] = outcome{state: unfinished}
			continue
		}
		outs[i] = j.conclude(work, j.msg.Items[i], results[k], results[k].Debug.Duration.Std())
	}
}

// verifyBatch runs bv under a context that ends storeMargin before ctx's
// deadline, so that what the batch concluded can still be stored.
func verifyBatch(ctx context.Context, bv BatchVerifier, reqs []engine.Request) ([]engine.Result, error) {
	vctx, cancel := beforeDeadline(ctx, storeMargin)
	defer cancel()
	return bv.VerifyBatch(vctx, reqs)
}

// beforeDeadline returns a context that ends reserve before ctx's
// deadline, or with ctx if it has none.
func beforeDeadline(ctx context.Context, reserve time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-reserve))
	}
	return context.WithCancel(ctx)
}
