package sqslambda_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
)

// The real SQS client satisfies the adapter's interface.
var _ sqslambda.VisibilityChanger = (*sqs.Client)(nil)

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

// fated is a consumer that gives every decodable message the same fate
// (Again once work has ended) and rejects the others, as the worker does.
type fated struct {
	fate queue.Fate
	mu   sync.Mutex
	seen []queue.Delivery
}

func (f *fated) Handle(work, _ context.Context, d queue.Delivery) queue.Fate {
	f.mu.Lock()
	f.seen = append(f.seen, d)
	f.mu.Unlock()
	switch {
	case d.Err != nil:
		return queue.Reject
	case work.Err() != nil:
		return queue.Again
	}
	return f.fate
}

const body = `{"version":1,"job_id":"j","items":[{"index":0,"email":"a@one.test"}]}`

func TestHandleShortensVisibility(t *testing.T) {
	tests := []struct {
		name     string
		fate     queue.Fate
		body     string
		receives string
		arn      string
		queueURL string
		callErr  error
		want     []time.Duration // visibility timeouts asked for, in order
	}{
		{name: "done: deleted, visibility untouched", fate: queue.Done, receives: "1"},
		{name: "again, first receive", fate: queue.Again, receives: "1", want: []time.Duration{30 * time.Second}},
		{name: "again, fourth receive", fate: queue.Again, receives: "4", want: []time.Duration{240 * time.Second}},
		{name: "again, capped at 15 min", fate: queue.Again, receives: "9", want: []time.Duration{15 * time.Minute}},
		{name: "again, no receive count", fate: queue.Again, want: []time.Duration{30 * time.Second}},
		{name: "poison: visible at once", body: `{"version":1,"job_id":`, receives: "2", want: []time.Duration{0}},
		{name: "rejected: visible at once", fate: queue.Reject, receives: "1", want: []time.Duration{0}},
		{name: "record of another queue", fate: queue.Again, receives: "1", arn: "arn:aws:sqs:us-east-1:123456789012:other"},
		{name: "no queue URL configured", fate: queue.Again, receives: "1", queueURL: "-"},
		{name: "call fails: still a failure", fate: queue.Again, receives: "1", callErr: errors.New("throttled"),
			want: []time.Duration{30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := visibilityRecorder{err: tt.callErr}
			var logs strings.Builder
			cfg := sqslambda.Config{QueueURL: testQueueURL, Visibility: &rec, Logger: testLogger(&logs)}
			if tt.queueURL == "-" {
				cfg.QueueURL = ""
			}
			r := events.SQSMessage{MessageId: "m-1", Body: body, ReceiptHandle: "receipt-1", EventSourceARN: testQueueARN,
				Attributes: map[string]string{}}
			if tt.receives != "" {
				r.Attributes["ApproximateReceiveCount"] = tt.receives
			}
			if tt.arn != "" {
				r.EventSourceARN = tt.arn
			}
			if tt.body != "" {
				r.Body = tt.body
			}
			c := &fated{fate: tt.fate}
			resp, err := sqslambda.New(cfg, c).Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{r}})
			if err != nil {
				t.Fatal(err)
			}
			if failed := len(resp.BatchItemFailures) == 1; failed != (tt.fate != queue.Done || tt.body != "") {
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
			if tt.callErr != nil && !strings.Contains(logs.String(), "Visibility not changed") {
				t.Errorf("failed call not logged:\n%s", logs.String())
			}
			if d := c.seen[0]; d.ID != "m-1" || string(d.Body) != r.Body || d.ReceiptHandle != "receipt-1" {
				t.Errorf("delivery %+v, not the record", d)
			}
		})
	}
}

// TestHandleVisibilityAfterCancel: a Lambda stopped mid-batch still
// shortens the wait of what it could not finish.
func TestHandleVisibilityAfterCancel(t *testing.T) {
	var rec visibilityRecorder
	h := sqslambda.New(sqslambda.Config{QueueURL: testQueueURL, Visibility: &rec}, &fated{fate: queue.Done})
	ev := events.SQSEvent{}
	for i := range 2 {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint(i), Body: body, ReceiptHandle: fmt.Sprintf("receipt-%d", i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := h.Handle(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 2 {
		t.Fatalf("Handle = %+v, %v; want both records failed", resp, err)
	}
	if got := rec.recorded(); len(got) != 2 || got[0].timeout != 30*time.Second || got[1].timeout != 30*time.Second {
		t.Errorf("calls %+v, want two of 30 s", got)
	}
}

// TestHandleEndsBeforeDeadline: the consumer works under a context that
// ends Reserve before the Lambda's deadline.
func TestHandleEndsBeforeDeadline(t *testing.T) {
	var got time.Time
	c := consumerFunc(func(work, _ context.Context, _ queue.Delivery) queue.Fate {
		got, _ = work.Deadline()
		return queue.Done
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deadline, _ := ctx.Deadline()
	if _, err := sqslambda.New(sqslambda.Config{}, c).Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{Body: body}}}); err != nil {
		t.Fatal(err)
	}
	if want := deadline.Add(-sqslambda.Reserve); !got.Equal(want) {
		t.Errorf("work deadline %v, want %v", got, want)
	}
}

type consumerFunc func(work, start context.Context, d queue.Delivery) queue.Fate

func (f consumerFunc) Handle(work, start context.Context, d queue.Delivery) queue.Fate {
	return f(work, start, d)
}

func TestRedeliveryDelay(t *testing.T) {
	tests := []struct {
		receives int
		want     time.Duration
	}{
		{0, 30 * time.Second}, // attribute missing
		{1, 30 * time.Second},
		{2, time.Minute},
		{5, 480 * time.Second},
		{6, 900 * time.Second},
		{10, 900 * time.Second},
		{200, 900 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.receives), func(t *testing.T) {
			if got := sqslambda.RedeliveryDelay(sqslambda.DefaultRedeliveryBase, tt.receives); got != tt.want {
				t.Errorf("RedeliveryDelay(30s, %d) = %v, want %v", tt.receives, got, tt.want)
			}
		})
	}
	if got := sqslambda.RedeliveryDelay(time.Millisecond, 1); got != time.Second {
		t.Errorf("RedeliveryDelay(1ms, 1) = %v, want the floor of 1s", got)
	}
}

func TestQueueOfRecord(t *testing.T) {
	const url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mailprobe-JobQueue-ABC"
	tests := []struct {
		name, configured, arn string
		changed               bool
	}{
		{"same queue", url, "arn:aws:sqs:eu-west-1:123456789012:mailprobe-JobQueue-ABC", true},
		{"no ARN in the record", url, "", true},
		{"another queue", url, "arn:aws:sqs:eu-west-1:123456789012:mailprobe-DeadLetterQueue-XYZ", false},
		{"a queue whose name ends the same", url, "arn:aws:sqs:eu-west-1:123456789012:JobQueue-ABC", false},
		{"nothing configured", "", "arn:aws:sqs:eu-west-1:123456789012:mailprobe-JobQueue-ABC", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec visibilityRecorder
			h := sqslambda.New(sqslambda.Config{QueueURL: tt.configured, Visibility: &rec}, &fated{fate: queue.Again})
			_, _ = h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
				{MessageId: "m", Body: body, ReceiptHandle: "r", EventSourceARN: tt.arn}}})
			if got := len(rec.recorded()) == 1; got != tt.changed {
				t.Errorf("visibility changed %v, want %v", got, tt.changed)
			}
		})
	}
}
