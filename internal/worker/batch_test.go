package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// TestBatchCancelledThenRedelivered covers the session-sharing path: a
// message whose batch is cut short (the Lambda is stopped after the mail
// server has answered 10 RCPTs) reports its record as failed, keeps what it
// concluded, and the redelivery completes the job with exactly one result
// per address, probing only what was missing.
func TestBatchCancelledThenRedelivered(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Delay: time.Millisecond})
	e.addDomains("slow.test")
	list, want := split(30, "slow.test")
	msgs := e.job("job-batch", list, nil, 30)
	w := e.worker(worker.Config{}, e.verifier(nil), nil, nil)
	ev := sqsEvent(t, msgs...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rcpts atomic.Int32
	e.mail.Update(func(o *smtptest.Options) {
		o.Mailbox = func(rcpt string) string {
			if rcpts.Add(1) == 10 {
				cancel()
			}
			return okMailbox(rcpt)
		}
	})
	resp, err := w.HandleSQS(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("batch item failures = %+v, want the one record", resp.BatchItemFailures)
	}
	e.mail.Update(func(o *smtptest.Options) { o.Mailbox = okMailbox })
	stored, err := e.store.ListResults(context.Background(), "job-batch", 0, len(list))
	if err != nil {
		t.Fatal(err)
	}
	missing := len(list) - len(stored)
	if missing == 0 {
		t.Fatal("the cut-short batch stored every result; nothing left to redeliver")
	}
	rcptsBefore, sessions := e.mail.Rcpts(), e.mail.Sessions()
	resp, err = w.HandleSQS(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("redelivery: %+v %v", resp, err)
	}
	e.assertExact("job-batch", list, want)
	// One RCPT per missing address, plus at most one for the engine's
	// catch-all probe of the domain.
	if got := e.mail.Rcpts() - rcptsBefore; got > missing+1 {
		t.Errorf("the redelivery sent %d RCPTs for %d missing addresses; want at most %d", got, missing, missing+1)
	}
	if got := e.mail.Sessions() - sessions; missing > 1 && got >= missing {
		t.Errorf("the redelivery opened %d sessions for %d addresses: sessions were not shared", got, missing)
	}
}
