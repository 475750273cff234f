package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
	"github.com/mailprobe/mailprobe/internal/webhook"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// okMailbox accepts local parts starting with "ok-" and rejects the rest
// with 550 5.1.1, so a test knows each verdict in advance. The hyphen
// keeps the engine's random catch-all probe (letters and digits) out.
func okMailbox(rcpt string) string {
	if strings.HasPrefix(rcpt, "ok-") {
		return smtptest.AcceptReply
	}
	return smtptest.UnknownReply
}

// split returns n addresses alternating ok/unknown, and their summary.
func split(n int, domains ...string) ([]string, store.Summary) {
	out := make([]string, n)
	var s store.Summary
	for i := range out {
		prefix := "ok-"
		if i%2 == 1 {
			prefix = "no-"
		}
		out[i] = fmt.Sprintf("%s%05d@%s", prefix, i, domains[i%len(domains)])
		if prefix == "ok-" {
			s.Safe++
		} else {
			s.Invalid++
		}
	}
	return out, s
}

func TestProcessStoresEachResultOnce(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("one.test")
	list, want := split(6, "one.test")
	msgs := e.job("job-basic", list, nil, 100)
	w := e.worker(worker.Config{}, e.verifier(nil), nil, nil)
	ctx := context.Background()

	rep, err := w.Process(ctx, msgs[0])
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	if rep != (worker.Report{Done: 6}) {
		t.Errorf("first delivery report %+v, want Done 6", rep)
	}
	e.assertExact("job-basic", list, want)

	sessions := e.mail.Sessions()
	rep, err = w.Process(ctx, msgs[0])
	if err != nil || rep != (worker.Report{Done: 6, Skipped: 6}) {
		t.Errorf("redelivery report %+v, %v; want Done 6 Skipped 6", rep, err)
	}
	if got := e.mail.Sessions(); got != sessions {
		t.Errorf("redelivery opened %d SMTP sessions, want none", got-sessions)
	}
	e.assertExact("job-basic", list, want)

	recs, _ := e.store.ListResults(ctx, "job-basic", 0, 10)
	r := recs[0]
	var res engine.Result
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatalf("stored result is not a Result: %v", err)
	}
	if r.Normalized != list[0] || r.IsReachable != "safe" || r.BackendName != "test-backend" ||
		res.Input != list[0] || r.CreatedAt.IsZero() || r.DurationMs < 0 {
		t.Errorf("stored record %+v (result input %q)", r, res.Input)
	}

	logs := e.logs.String()
	if n := strings.Count(logs, `"message":"Verification completed"`); n != 6 {
		t.Errorf("%d 'Verification completed' lines, want 6:\n%s", n, logs)
	}
	if strings.Contains(logs, "@one.test") {
		t.Errorf("logs contain an address although LogEmails is off:\n%s", logs)
	}
	if !strings.Contains(logs, `"email_hash":"`+metrics.HashEmail(list[0])+`"`) ||
		!strings.Contains(logs, `"backend":"test-backend"`) || !strings.Contains(logs, `"duration_ms":`) {
		t.Errorf("log lines lack the guide's fields:\n%s", logs)
	}
	if n := strings.Count(e.emf.String(), "\n"); n != 6 {
		t.Errorf("%d EMF lines, want 6", n)
	}
}

func TestLogEmails(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("one.test")
	msgs := e.job("job-logs", []string{"ok-1@one.test"}, nil, 10)
	w := e.worker(worker.Config{LogEmails: true}, e.verifier(nil), nil, nil)
	if _, err := w.Process(context.Background(), msgs[0]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.logs.String(), `"email":"ok-1@one.test"`) {
		t.Errorf("address not logged with LogEmails:\n%s", e.logs.String())
	}
}

func TestWebhookPostedForEachStoredResult(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("one.test")
	hook := startHookReceiver(t)
	list, want := split(4, "one.test")
	msgs := e.job("job-hook", list, nil, 10)
	msgs[0].Webhook = json.RawMessage(`{"on_each_email":{"url":"` + hook.URL + `/h","headers":{"x-token":"t"},"extra":{"list":7}}}`)
	w := e.worker(worker.Config{}, e.verifier(nil), nil, webhook.New(webhook.Options{}))
	for range 2 { // the redelivery must not post again
		if _, err := w.Process(context.Background(), msgs[0]); err != nil {
			t.Fatal(err)
		}
	}
	e.assertExact("job-hook", list, want)
	got := hook.received()
	if len(got) != len(list) {
		t.Fatalf("%d webhook posts, want %d", len(got), len(list))
	}
	for _, b := range got {
		if string(b.Extra) != `{"list":7}` || b.Result.Input == "" || b.Result.IsReachable == "" {
			t.Errorf("webhook body %s", b.Raw)
		}
	}
}

func TestWebhookFailureDoesNotLoseResult(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("one.test")
	msgs := e.job("job-hook-down", []string{"ok-1@one.test"}, nil, 10)
	// Port 1 on loopback refuses connections.
	msgs[0].Webhook = json.RawMessage(`{"on_each_email":{"url":"http://127.0.0.1:1/h"}}`)
	hooks := webhook.New(webhook.Options{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }})
	w := e.worker(worker.Config{}, e.verifier(nil), nil, hooks)
	rep, err := w.Process(context.Background(), msgs[0])
	if err != nil || rep.Done != 1 {
		t.Fatalf("report %+v, %v; want the result stored", rep, err)
	}
	e.assertExact("job-hook-down", []string{"ok-1@one.test"}, store.Summary{Safe: 1})
	if !strings.Contains(e.logs.String(), "Webhook not delivered") {
		t.Errorf("webhook failure not logged:\n%s", e.logs.String())
	}
}

func TestBadRequestOptionsRejected(t *testing.T) {
	tests := []struct {
		name    string
		request string
	}{
		{"not an object", `[1,2]`},
		{"port out of range", `{"smtp_port":99999}`},
		{"hello name with line break", `{"hello_name":"a\r\nb"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, smtptest.Options{})
			w := e.worker(worker.Config{}, e.verifier(nil), nil, nil)
			msg := queue.Message{Version: 1, JobID: "job-bad", Items: []queue.Item{{Index: 0, Email: "a@one.test"}},
				Request: json.RawMessage(tt.request)}
			_, err := w.Process(context.Background(), msg)
			if !errors.Is(err, worker.ErrBadRequest) {
				t.Errorf("Process error %v, want ErrBadRequest", err)
			}
			if e.mail.Sessions() != 0 {
				t.Error("an SMTP session was opened for an unusable message")
			}
		})
	}
}

func TestDeadlineLeavesProbesUnstarted(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("one.test")
	list, _ := split(5, "one.test")
	msgs := e.job("job-deadline", list, nil, 10)
	// The context leaves an hour; each probe needs two.
	w := e.worker(worker.Config{ProbeBudget: 2 * time.Hour}, e.verifier(nil), nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	rep, err := w.Process(ctx, msgs[0])
	if err != nil || rep != (worker.Report{Rescheduled: 5}) {
		t.Errorf("report %+v, %v; want Rescheduled 5", rep, err)
	}
	if e.mail.Sessions() != 0 {
		t.Errorf("%d SMTP sessions started past the budget", e.mail.Sessions())
	}
	if j, _ := e.store.GetJob(ctx, "job-deadline"); j.WaitingReasons["deadline"] != 5 {
		t.Errorf("job waiting %v, want 5 for the deadline", j.WaitingReasons)
	}
	// A request's own smtp_timeout sets its budget: 1 s + margin fits.
	msgs = e.job("job-deadline-2", list, []byte(`{"smtp_timeout":{"secs":1,"nanos":0}}`), 10)
	w = e.worker(worker.Config{ProbeBudget: 2 * time.Hour, ProbeMargin: time.Minute}, e.verifier(nil), nil, nil)
	if rep, err := w.Process(ctx, msgs[0]); err != nil || rep.Done != 5 {
		t.Errorf("with smtp_timeout 1s: report %+v, %v; want Done 5", rep, err)
	}
}

func TestConcurrencyBounds(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox, Delay: 2 * time.Millisecond})
	domains := []string{"a.test", "b.test", "c.test", "d.test", "e.test", "f.test"}
	e.addDomains(domains...)
	list, want := split(72, domains...)
	msgs := e.job("job-bounds", list, nil, 4) // 18 messages, 3 per domain
	g := &gauge{next: e.verifier(nil)}
	w := e.worker(worker.Config{Concurrency: 4, PerDomain: 2}, g, nil, nil)
	resp, err := handleSQS(w, context.Background(), sqsEvent(t, msgs...), sqslambda.Config{})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("HandleSQS: %+v, %v", resp, err)
	}
	e.assertExact("job-bounds", list, want)
	top, topDomain, calls := g.stats()
	if top > 4 || topDomain > 2 || calls != 72 {
		t.Errorf("at most %d verifications at once (limit 4), %d of one domain (limit 2), %d calls (want 72)", top, topDomain, calls)
	}
}

// TestNoSecretsInLogsOrResults sends every probe through a request proxy
// with a password and checks that it appears nowhere we write.
func TestNoSecretsInLogsOrResults(t *testing.T) {
	const password = "pr0xy-Pa55word"
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("one.test")
	proxy := sockstest.Start(t, sockstest.Options{User: "probe", Pass: password, SourceIP: netip.MustParseAddr("127.0.0.9")})
	e.mail.Update(func(o *smtptest.Options) { o.Source = "127.0.0.9" })
	hook := startHookReceiver(t)
	list, want := split(3, "one.test")
	req := fmt.Sprintf(`{"proxy":{"host":%q,"port":%d,"username":"probe","password":%q}}`, proxy.Host, proxy.Port, password)
	msgs := e.job("job-secret", list, []byte(req), 10)
	msgs[0].Webhook = json.RawMessage(`{"on_each_email":{"url":"` + hook.URL + `"}}`)
	w := e.worker(worker.Config{LogEmails: true}, e.verifier(func(c *engine.Config) { c.AllowDirect = false }), nil, webhook.New(webhook.Options{}))
	if _, err := handleSQS(w, context.Background(), sqsEvent(t, msgs...), sqslambda.Config{}); err != nil {
		t.Fatal(err)
	}
	e.assertExact("job-secret", list, want)
	// Every SMTP session the mail server saw came through the proxy (the
	// addresses of a message share sessions, so there are fewer sessions
	// than addresses).
	if proxy.Connections() == 0 || proxy.Connections() < e.mail.Sessions() {
		t.Errorf("proxy forwarded %d connections for %d SMTP sessions", proxy.Connections(), e.mail.Sessions())
	}
	recs, _ := e.store.ListResults(context.Background(), "job-secret", 0, 10)
	var stored strings.Builder
	for _, r := range recs {
		stored.Write(r.Result)
	}
	for where, text := range map[string]string{"logs": e.logs.String(), "EMF": e.emf.String(), "stored results": stored.String()} {
		if strings.Contains(text, password) {
			t.Errorf("%s contain the proxy password", where)
		}
	}
	for _, b := range hook.received() {
		if strings.Contains(b.Raw, password) {
			t.Error("webhook body contains the proxy password")
		}
	}
}

// TestStoreDownFailsTheRecord: a delivery that can store nothing is not
// settled; its record is a batch item failure, delivered again soon.
func TestStoreDownFailsTheRecord(t *testing.T) {
	e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("one.test")
	list, _ := split(2, "one.test")
	msgs := e.job("job-down", list, nil, 10)
	w := worker.New(worker.Config{}, worker.Deps{Verifier: e.verifier(nil), Store: brokenStore{}, Queue: e.queue,
		Logger: testLogger(e.logs)})
	ev := sqsEvent(t, msgs...)
	ev.Records[0].ReceiptHandle = "receipt-0"
	var vis visibilityRecorder
	resp, err := handleSQS(w, context.Background(), ev, sqslambda.Config{QueueURL: "https://sqs.example/1/q", Visibility: &vis})
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("handle = %+v, %v; want the record failed", resp, err)
	}
	if calls := vis.recorded(); len(calls) != 1 || calls[0].timeout != 30*time.Second {
		t.Errorf("visibility changes %+v, want one of 30 s", calls)
	}
	if !strings.Contains(e.logs.String(), "Result store failed") {
		t.Errorf("the failure is not logged:\n%s", e.logs.String())
	}
}
