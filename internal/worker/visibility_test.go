package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// The real SQS client satisfies the worker's interface.
var _ worker.VisibilityChanger = (*sqs.Client)(nil)

const (
	testQueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/mailprobe-jobs"
	testQueueARN = "arn:aws:sqs:us-east-1:123456789012:mailprobe-jobs"
)

// visibilityCall is one ChangeMessageVisibility request.
type visibilityCall struct {
	queueURL, receipt string
	timeout           time.Duration
}

// visibilityRecorder records ChangeMessageVisibility calls and answers
// with err.
type visibilityRecorder struct {
	err   error
	mu    sync.Mutex
	calls []visibilityCall
}

func (r *visibilityRecorder) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, visibilityCall{aws.ToString(in.QueueUrl), aws.ToString(in.ReceiptHandle),
		time.Duration(in.VisibilityTimeout) * time.Second})
	return &sqs.ChangeMessageVisibilityOutput{}, r.err
}

func (r *visibilityRecorder) recorded() []visibilityCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]visibilityCall(nil), r.calls...)
}

// stubVerifier answers every address with res, or fails with err as a
// verification interrupted by the end of its context does.
type stubVerifier struct {
	res engine.Result
	err error
}

func (s stubVerifier) Verify(_ context.Context, req engine.Request) (engine.Result, error) {
	r := s.res
	r.Input = req.ToEmail
	return r, s.err
}

func TestHandleSQSShortensVisibility(t *testing.T) {
	safe := stubVerifier{res: engine.Result{IsReachable: engine.Safe}}
	interrupted := stubVerifier{err: context.Canceled}
	tests := []struct {
		name     string
		verifier stubVerifier
		body     string // "" for a valid one-address message
		request  string
		receives string
		arn      string
		queueURL string
		callErr  error
		want     []time.Duration // visibility timeouts asked for, in order
	}{
		{name: "done: deleted, visibility untouched", verifier: safe, receives: "1"},
		{name: "unfinished, first receive", verifier: interrupted, receives: "1", want: []time.Duration{30 * time.Second}},
		{name: "unfinished, fourth receive", verifier: interrupted, receives: "4", want: []time.Duration{240 * time.Second}},
		{name: "unfinished, capped at 15 min", verifier: interrupted, receives: "9", want: []time.Duration{15 * time.Minute}},
		{name: "unfinished, no receive count", verifier: interrupted, want: []time.Duration{30 * time.Second}},
		{name: "poison: visible at once", verifier: safe, body: `{"version":1,"job_id":`, receives: "2", want: []time.Duration{0}},
		{name: "unusable options: visible at once", verifier: safe, request: `{"smtp_port":99999}`, receives: "1", want: []time.Duration{0}},
		{name: "record of another queue", verifier: interrupted, receives: "1", arn: "arn:aws:sqs:us-east-1:123456789012:other"},
		{name: "no queue URL configured", verifier: interrupted, receives: "1", queueURL: "-"},
		{name: "call fails: still a failure", verifier: interrupted, receives: "1", callErr: errors.New("throttled"),
			want: []time.Duration{30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, smtptest.Options{})
			var req []byte
			if tt.request != "" {
				req = []byte(tt.request)
			}
			msgs := e.job("job-vis", []string{"a@one.test"}, req, 10)
			rec := visibilityRecorder{err: tt.callErr}
			cfg := worker.Config{QueueURL: testQueueURL}
			if tt.queueURL == "-" {
				cfg.QueueURL = ""
			}
			w := worker.New(cfg, worker.Deps{Verifier: tt.verifier, Store: e.store, Queue: e.queue,
				Logger: testLogger(e.logs), Visibility: &rec})
			ev := sqsEvent(t, msgs...)
			r := &ev.Records[0]
			r.ReceiptHandle, r.EventSourceARN = "receipt-1", testQueueARN
			r.Attributes = map[string]string{}
			if tt.receives != "" {
				r.Attributes["ApproximateReceiveCount"] = tt.receives
			}
			if tt.arn != "" {
				r.EventSourceARN = tt.arn
			}
			if tt.body != "" {
				r.Body = tt.body
			}
			resp, err := w.HandleSQS(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if failed := len(resp.BatchItemFailures) == 1; failed != (tt.verifier.err != nil || tt.body != "" || tt.request != "") {
				t.Errorf("batch item failures %+v", resp.BatchItemFailures)
			}
			var got []time.Duration
			for _, c := range rec.recorded() {
				if c.queueURL != testQueueURL || c.receipt != "receipt-1" {
					t.Errorf("call %+v, want queue %s and receipt-1", c, testQueueURL)
				}
				got = append(got, c.timeout)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("visibility timeouts %v, want %v", got, tt.want)
			}
			if tt.callErr != nil && !strings.Contains(e.logs.String(), "Visibility not changed") {
				t.Errorf("failed call not logged:\n%s", e.logs.String())
			}
		})
	}
}

// TestHandleSQSVisibilityAfterCancel: a Lambda stopped mid-batch still
// shortens the wait of what it could not finish.
func TestHandleSQSVisibilityAfterCancel(t *testing.T) {
	e := newEnv(t, smtptest.Options{})
	msgs := e.job("job-vis-cancel", []string{"a@one.test", "b@two.test"}, nil, 1)
	var rec visibilityRecorder
	w := worker.New(worker.Config{QueueURL: testQueueURL}, worker.Deps{Verifier: stubVerifier{res: engine.Result{IsReachable: engine.Safe}},
		Store: e.store, Queue: e.queue, Logger: testLogger(e.logs), Visibility: &rec})
	ev := sqsEvent(t, msgs...)
	for i := range ev.Records {
		ev.Records[i].ReceiptHandle = fmt.Sprintf("receipt-%d", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := w.HandleSQS(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 2 {
		t.Fatalf("HandleSQS = %+v, %v; want both records failed", resp, err)
	}
	if got := rec.recorded(); len(got) != 2 || got[0].timeout != 30*time.Second || got[1].timeout != 30*time.Second {
		t.Errorf("calls %+v, want two of 30 s", got)
	}
}
