package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
	"github.com/mailprobe/mailprobe/internal/webhook"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// sqsEvent wraps messages in an SQS event, one record each.
func sqsEvent(t *testing.T, msgs ...queue.Message) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	for i, m := range msgs {
		body, err := queue.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:  fmt.Sprintf("msg-%d", i),
			Body:       string(body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	return ev
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestCancelledMidBatchThenRedelivered(t *testing.T) {
	onStores(t, func(t *testing.T, newEnv envMaker) {
		e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Delay: time.Millisecond})
		e.addDomains("a.test", "b.test")
		list, want := split(40, "a.test", "b.test")
		msgs := e.job("job-cancel", list, nil, 10)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		g := &gauge{next: e.verifier(nil), after: func(calls int) {
			if calls == 7 {
				cancel() // the Lambda is stopped mid-batch
			}
		}}
		w := e.worker(worker.Config{Concurrency: 3, PerDomain: 2}, g, nil, nil)
		ev := sqsEvent(t, msgs...)
		resp, err := handleSQS(w, ctx, ev, sqslambda.Config{Concurrency: 3})
		if err != nil {
			t.Fatalf("HandleSQS returned %v; record problems must not fail the batch", err)
		}
		if len(resp.BatchItemFailures) == 0 {
			t.Fatal("no batch item failure after cancellation mid-batch: the records not started must come back")
		}
		recs, _ := e.store.ListResults(context.Background(), "job-cancel", 0, 100)
		if len(recs) == 0 || len(recs) == len(list) {
			t.Fatalf("%d results stored before the redelivery; want some but not all", len(recs))
		}
		_, _, before := g.stats()

		// SQS redelivers the failed records (and, say, one that had succeeded).
		var again events.SQSEvent
		failed := strings.Join(failedIDs(resp), ",")
		for _, r := range ev.Records {
			if strings.Contains(failed, r.MessageId) || r.MessageId == "msg-0" {
				again.Records = append(again.Records, r)
			}
		}
		w2 := e.worker(worker.Config{Concurrency: 3, PerDomain: 2, RetryDelay: time.Millisecond, ResendGrace: time.Second}, g, nil, nil)
		resp, err = handleSQS(w2, context.Background(), again, sqslambda.Config{Concurrency: 3})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: %+v, %v", resp, err)
		}
		// What the stopped records left undone was sent back to the queue.
		e.runLocal(w2, "job-cancel")
		e.assertExact("job-cancel", list, want)
		if _, _, after := g.stats(); after-before > len(list)-len(recs) {
			t.Errorf("redelivery verified %d addresses; only %d were missing", after-before, len(list)-len(recs))
		}
	})
}

func TestSameMessageDeliveredTwiceConcurrently(t *testing.T) {
	onStores(t, func(t *testing.T, newEnv envMaker) {
		e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Delay: time.Millisecond})
		e.addDomains("one.test")
		hook := startHookReceiver(t)
		list, want := split(30, "one.test")
		msgs := e.job("job-twice", list, nil, 100)
		msgs[0].Webhook = json.RawMessage(`{"on_each_email":{"url":"` + hook.URL + `"}}`)
		// Two Lambda instances: two workers over the same store.
		var wg sync.WaitGroup
		reps := make([]worker.Report, 2)
		for i := range reps {
			w := e.worker(worker.Config{}, e.verifier(nil), nil, webhook.New(webhook.Options{}))
			wg.Go(func() {
				var err error
				if reps[i], err = w.Process(context.Background(), msgs[0]); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i, r := range reps {
			if r.Done != len(list) {
				t.Errorf("delivery %d: report %+v, want Done %d", i, r, len(list))
			}
		}
		e.assertExact("job-twice", list, want)
		if got := len(hook.received()); got != len(list) {
			t.Errorf("%d webhook posts, want one per address (%d)", got, len(list))
		}
	})
}

func TestGreylistingRescheduledThenSucceeds(t *testing.T) {
	onStores(t, func(t *testing.T, newEnv envMaker) {
		e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Greylist: 1})
		e.addDomains("grey.test")
		list := []string{"ok-1@grey.test", "ok-2@grey.test", "ok-3@grey.test"}
		msgs := e.job("job-grey", list, nil, 10)
		rq := &recordingQueue{next: e.queue}
		// The recording queue delivers at once; the worker's clock jumps past
		// the retry's due time instead of the test waiting for it.
		var skew atomic.Int64
		now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		w := e.worker(worker.Config{Now: now}, e.verifier(nil), rq, nil)

		rep, err := w.Process(context.Background(), msgs[0])
		if err != nil || rep != (worker.Report{Rescheduled: 3}) {
			t.Fatalf("first delivery: %+v, %v; want Rescheduled 3", rep, err)
		}
		skew.Store(int64(2 * time.Minute))
		delays, sent := rq.sent()
		// smtptest says "try again in 60 seconds": more than the 30 s base.
		if len(delays) != 1 || delays[0] != 60*time.Second {
			t.Errorf("reschedule delays %v, want one of 60s", delays)
		}
		if len(sent) != 1 || sent[0].Attempt != 1 || len(sent[0].Items) != 3 || sent[0].JobID != "job-grey" {
			t.Fatalf("rescheduled message %+v, want job-grey attempt 1 with 3 items", sent)
		}
		for _, it := range sent[0].Items {
			if r := it.Retry; r == nil || r.Temporary != 1 || r.FirstTemporary == nil {
				t.Errorf("item %d rescheduled with retry state %+v, want one temporary answer recorded", it.Index, r)
			}
		}
		if j, _ := e.store.GetJob(context.Background(), "job-grey"); j.Waiting != 3 || j.NextRetryAt == nil {
			t.Errorf("job shows %d waiting, next %v; want 3 waiting for a retry", j.Waiting, j.NextRetryAt)
		}
		if recs, _ := e.store.ListResults(context.Background(), "job-grey", 0, 10); len(recs) != 0 {
			t.Errorf("%d provisional results stored, want none", len(recs))
		}
		e.runLocal(w, "job-grey")
		e.assertExact("job-grey", list, store.Summary{Safe: 3})
	})
}

func TestLastAttemptStoresUnknown(t *testing.T) {
	onStores(t, func(t *testing.T, newEnv envMaker) {
		e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Greylist: 100})
		e.addDomains("grey.test")
		list := []string{"ok-1@grey.test", "ok-2@grey.test"}
		msgs := e.job("job-last", list, nil, 10)
		// The retry window opened an hour ago: this check is the last.
		first := time.Now().Add(-time.Hour)
		for i := range msgs[0].Items {
			msgs[0].Items[i].Retry = &queue.RetryState{Due: time.Now(), FirstTemporary: &first, Temporary: 3}
		}
		rq := &recordingQueue{next: e.queue}
		w := e.worker(worker.Config{}, e.verifier(nil), rq, nil)
		rep, err := w.Process(context.Background(), msgs[0])
		if err != nil || rep != (worker.Report{Done: 2}) {
			t.Fatalf("report %+v, %v; want Done 2", rep, err)
		}
		if delays, _ := rq.sent(); len(delays) != 0 {
			t.Errorf("rescheduled at the last attempt: %v", delays)
		}
		e.assertExact("job-last", list, store.Summary{Unknown: 2})
	})
}

func TestProxyDownRescheduledThenSucceeds(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Source: "127.0.0.9"})
	e.addDomains("proxied.test")
	proxy := sockstest.Start(t, sockstest.Options{User: "u", Pass: "p", SourceIP: netipAddr(t, "127.0.0.9")})
	p, err := dialer.ParseProxyURL(proxy.URL())
	if err != nil {
		t.Fatal(err)
	}
	v := e.verifier(func(c *engine.Config) {
		c.AllowDirect = false
		c.Proxies = []dialer.Proxy{p}
		c.Defaults.Retries = 0
	})
	list, want := split(4, "proxied.test")
	msgs := e.job("job-proxy", list, nil, 10)
	rq := &recordingQueue{next: e.queue}
	w := e.worker(worker.Config{}, v, rq, nil)

	proxy.SetDown(true)
	rep, err := w.Process(context.Background(), msgs[0])
	if err != nil || rep != (worker.Report{Rescheduled: 4}) {
		t.Fatalf("with the proxy down: %+v, %v; want Rescheduled 4", rep, err)
	}
	if delays, _ := rq.sent(); len(delays) != 1 || delays[0] < worker.MinDelay || delays[0] > worker.MaxDelay {
		t.Errorf("reschedule delays %v, want one within [1s, 900s]", delays)
	}
	proxy.SetDown(false)
	e.runLocal(w, "job-proxy")
	e.assertExact("job-proxy", list, want)
	// Every SMTP session the mail server saw came through the proxy (the
	// addresses of a message share sessions, so there are fewer sessions
	// than addresses).
	if proxy.Connections() == 0 || proxy.Connections() < e.mail.Sessions() {
		t.Errorf("proxy forwarded %d connections for %d SMTP sessions", proxy.Connections(), e.mail.Sessions())
	}
}

// TestHandleSQSEventFiles feeds the checked-in events/ files: the poison
// record is the only batch item failure and the rest of its batch is
// stored.
func TestHandleSQSEventFiles(t *testing.T) {
	tests := []struct {
		file       string
		wantFailed []string
		wantStored map[string][]int // job → stored indices
		wantExtras []string         // the extra of each webhook post
	}{
		{"sqs-one-address.json", nil, map[string][]int{"job-example-one": {0}}, nil},
		{"sqs-batch.json", nil, map[string][]int{"job-example-batch": {0, 1, 2, 3, 4}}, []string{`{"list":"newsletter"}`}},
		{"sqs-reacher-shape.json", nil, map[string][]int{queue.ReacherJobID(1): {queue.ReacherIndex("someone@example.com")}}, nil},
		{"sqs-poison.json", []string{"0e6b6c7e-6f1a-4c3e-9b1d-000000000002"}, map[string][]int{"job-example-poison": {0, 2}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := newEnv(t, smtptest.Options{CatchAll: false, Users: map[string]string{}})
			e.addDomains("example.com", "mail.example.test")
			hook := startHookReceiver(t)
			raw, err := os.ReadFile(filepath.Join("..", "..", "events", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			// Point the example webhook at the test receiver.
			raw = []byte(strings.ReplaceAll(string(raw), "http://127.0.0.1:9/mailprobe-hook", hook.URL+"/mailprobe-hook"))
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			var vis visibilityRecorder
			// Metrics and EMF without Observer: the Deps of before Observer.
			w := worker.New(worker.Config{BackendName: "test-backend"},
				worker.Deps{Verifier: e.verifier(nil), Store: e.store, Queue: e.queue, Webhook: webhook.New(webhook.Options{}),
					Metrics: e.metrics, EMF: e.emf, Logger: testLogger(e.logs)})
			resp, err := handleSQS(w, context.Background(), ev, sqslambda.Config{
				QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/mailprobe-jobs", Visibility: &vis})
			if err != nil {
				t.Fatalf("HandleSQS: %v", err)
			}
			if got := fmt.Sprint(failedIDs(resp)); got != fmt.Sprint(tt.wantFailed) {
				t.Errorf("batch item failures %s, want %v", got, tt.wantFailed)
			}
			for job, idx := range tt.wantStored {
				recs, _ := e.store.ListResults(context.Background(), job, 0, 10)
				var got []int
				for _, r := range recs {
					got = append(got, r.Index)
				}
				if fmt.Sprint(got) != fmt.Sprint(idx) {
					t.Errorf("job %s stored indices %v, want %v", job, got, idx)
				}
			}
			if extras := hook.extras(); fmt.Sprint(extras) != fmt.Sprint(tt.wantExtras) {
				t.Errorf("webhook posts with extras %v, want %v", extras, tt.wantExtras)
			}
			// The poison record is made visible at once, to reach the
			// dead-letter queue without waiting; the others are deleted.
			if calls := vis.recorded(); len(calls) != len(tt.wantFailed) ||
				len(calls) == 1 && (calls[0].timeout != 0 || calls[0].receipt != "AQEB-mailprobe-example-receipt-handle-2") {
				t.Errorf("visibility changes %+v, want one to 0 s for each failed record", calls)
			}
			if tt.wantFailed != nil {
				logs := e.logs.String()
				if !strings.Contains(logs, "Poison message rejected") || !strings.Contains(logs, tt.wantFailed[0]) ||
					!strings.Contains(logs, `"receive_count":3`) || strings.Contains(logs, "second@example.com") {
					t.Errorf("poison log line wrong (want id, reason and count, never the body):\n%s", logs)
				}
			}
		})
	}
}

func TestRunLocalDeadLettersPoison(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("one.test")
	list, want := split(5, "one.test")
	msgs := e.job("job-local-poison", list, nil, 2)
	ctx := context.Background()
	if err := e.queue.SendRaw(ctx, 0, []byte(`{"version":1,"job_id":"job-local-poison","items":[`)); err != nil {
		t.Fatal(err)
	}
	if err := e.queue.Send(ctx, msgs, 0); err != nil {
		t.Fatal(err)
	}
	w := e.worker(worker.Config{RetryDelay: time.Millisecond}, e.verifier(nil), nil, nil)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- worker.RunLocal(runCtx, e.queue, w) }()
	// The dead-letter queue gets the poison after MaxReceiveCount (3)
	// receives; a long-poll Receive waits for it.
	var dead []queue.Delivery
	e.waitFor(func() bool {
		ds, err := e.queue.DeadLetter().Receive(ctx, 10, time.Second)
		dead = append(dead, ds...)
		return err == nil && len(dead) > 0
	}, "the poison message in the dead-letter queue")
	e.waitFor(func() bool {
		j, err := e.store.GetJob(ctx, "job-local-poison")
		return err == nil && j.Status() == store.StatusCompleted
	}, "the job to complete")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunLocal: %v", err)
	}
	if len(dead) != 1 || dead[0].Err == nil {
		t.Errorf("dead letters %+v, want the one poison message", dead)
	}
	e.assertExact("job-local-poison", list, want)
}

// TestRunLocalStopsCleanlyAndResumes stops the runner mid-job, restarts
// the process (files closed and reopened) and finishes the job.
func TestRunLocalStopsCleanlyAndResumes(t *testing.T) {
	onStores(t, func(t *testing.T, newEnv envMaker) {
		e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Delay: 2 * time.Millisecond})
		domains := []string{"a.test", "b.test", "c.test"}
		e.addDomains(domains...)
		list, want := split(150, domains...)
		msgs := e.job("job-restart", list, nil, 10)
		ctx := context.Background()
		if err := e.queue.Send(ctx, msgs, 0); err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		g := &gauge{next: e.verifier(nil), after: func(calls int) {
			if calls == 30 {
				cancel()
			}
		}}
		w := e.worker(worker.Config{RetryDelay: time.Millisecond}, g, nil, nil)
		if err := worker.RunLocal(runCtx, e.queue, w); err != nil {
			t.Fatalf("RunLocal: %v", err)
		}
		_, _, calls := g.stats()
		recs, _ := e.store.ListResults(ctx, "job-restart", 0, 1000)
		// Started probes finished and were stored: nothing verified was lost.
		if len(recs) != calls {
			t.Errorf("%d verifications ran but %d results are stored", calls, len(recs))
		}
		if len(recs) == len(list) {
			t.Fatal("the whole job finished before the stop; nothing to resume")
		}

		e.restart()
		w = e.worker(worker.Config{RetryDelay: time.Millisecond}, e.verifier(nil), nil, nil)
		e.runLocal(w, "job-restart")
		e.assertExact("job-restart", list, want)
	})
}

// Test10000AddressesLocal runs a 10 000-address job through the embedded
// queue and store with fast loopback servers.
func Test10000AddressesLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("10 000 verifications; skipped in -short mode")
	}
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	domains := make([]string, 20)
	for i := range domains {
		domains[i] = fmt.Sprintf("d%02d.test", i)
	}
	e.addDomains(domains...)
	list, want := split(10_000, domains...)
	msgs := e.job("job-10k", list, nil, 50)
	ctx := context.Background()
	for i := 0; i < len(msgs); i += queue.MaxBatchEntries {
		if err := e.queue.Send(ctx, msgs[i:min(i+queue.MaxBatchEntries, len(msgs))], 0); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	w := e.worker(worker.Config{Concurrency: 40}, e.verifier(nil), nil, nil)
	e.runLocal(w, "job-10k")
	t.Logf("10 000 addresses in %v (%d messages)", time.Since(start).Round(time.Millisecond), len(msgs))
	e.assertExact("job-10k", list, want)
}
