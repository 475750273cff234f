package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// TestBatchCancelledThenSentBack covers the session-sharing path: a
// message whose batch is cut short (the Lambda is stopped after the mail
// server has answered 10 RCPTs) stores what it concluded and sends the rest
// back as a message of its own. The record is done; delivered again
// anyway (its delete was lost), it checks nothing. The job then completes
// with exactly one result per address, probing only what was missing.
func TestBatchCancelledThenSentBack(t *testing.T) {
	onStores(t, func(t *testing.T, newEnv envMaker) {
		e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Delay: time.Millisecond})
		e.addDomains("slow.test")
		list, want := split(30, "slow.test")
		msgs := e.job("job-batch", list, nil, 30)
		w := e.worker(worker.Config{RetryDelay: time.Millisecond, ResendGrace: time.Second}, e.verifier(nil), nil, nil)
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
		resp, err := handleSQS(w, ctx, ev, sqslambda.Config{})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("HandleSQS = %+v, %v; want the record done, the rest sent back", resp, err)
		}
		e.mail.Update(func(o *smtptest.Options) { o.Mailbox = okMailbox })
		stored, err := e.store.ListResults(context.Background(), "job-batch", 0, len(list))
		if err != nil {
			t.Fatal(err)
		}
		missing := len(list) - len(stored)
		if missing == 0 {
			t.Fatal("the cut-short batch stored every result; nothing left to send back")
		}
		if j, _ := e.store.GetJob(context.Background(), "job-batch"); j.Waiting != missing || j.WaitingReasons["deadline"] != missing {
			t.Errorf("job waiting %d %v, want %d for the deadline", j.Waiting, j.WaitingReasons, missing)
		}
		rcptsBefore, sessions := e.mail.Rcpts(), e.mail.Sessions()
		if resp, err := handleSQS(w, context.Background(), ev, sqslambda.Config{}); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: %+v %v", resp, err)
		}
		if e.mail.Rcpts() != rcptsBefore {
			t.Errorf("the redelivery of a settled message sent %d RCPTs", e.mail.Rcpts()-rcptsBefore)
		}
		e.runLocal(w, "job-batch")
		e.assertExact("job-batch", list, want)
		// One RCPT per missing address, plus at most one for the engine's
		// catch-all probe of the domain.
		if got := e.mail.Rcpts() - rcptsBefore; got > missing+1 {
			t.Errorf("the rest sent %d RCPTs for %d missing addresses; want at most %d", got, missing, missing+1)
		}
		if got := e.mail.Sessions() - sessions; missing > 1 && got >= missing {
			t.Errorf("the rest opened %d sessions for %d addresses: sessions were not shared", got, missing)
		}
	})
}
