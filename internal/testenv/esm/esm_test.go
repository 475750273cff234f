package esm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

func TestSettle(t *testing.T) {
	batch := []events.SQSMessage{{MessageId: "a"}, {MessageId: "b"}, {MessageId: "c"}}
	ok := func(payload string) rie.Result { return rie.Result{Outcome: rie.Invoked, Payload: []byte(payload)} }
	tests := []struct {
		name    string
		report  bool
		res     rie.Result
		deleted []string
	}{
		{"success", true, ok(`{"batchItemFailures":[]}`), []string{"a", "b", "c"}},
		{"null failures", true, ok(`{"batchItemFailures":null}`), []string{"a", "b", "c"}},
		{"empty answer", true, ok(`null`), []string{"a", "b", "c"}},
		{"partial", true, ok(`{"batchItemFailures":[{"itemIdentifier":"b"}]}`), []string{"a", "c"}},
		{"unknown id", true, ok(`{"batchItemFailures":[{"itemIdentifier":"z"}]}`), nil},
		{"empty id", true, ok(`{"batchItemFailures":[{"itemIdentifier":""}]}`), nil},
		{"unparsable", true, ok(`[1`), nil},
		{"function error", true, rie.Result{Outcome: rie.FunctionError}, nil},
		{"timeout", true, rie.Result{Outcome: rie.TimedOut}, nil},
		{"crash", false, rie.Result{Outcome: rie.Crashed}, nil},
		{"without reporting", false, ok(`{"batchItemFailures":[{"itemIdentifier":"b"}]}`), []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		m := &Mapping{ReportBatchItemFailures: tt.report, Log: slog.New(slog.DiscardHandler)}
		var got []string
		for _, r := range m.settle(batch, tt.res) {
			got = append(got, r.MessageId)
		}
		if !slices.Equal(got, tt.deleted) {
			t.Errorf("%s: deleted %v, want %v", tt.name, got, tt.deleted)
		}
	}
}

// queues creates a queue whose messages go to a dead-letter queue after
// maxReceive receives, on the SQS emulator.
func queues(t *testing.T, c *sqs.Client, visibility, maxReceive int) (url, arn, dlqURL string) {
	t.Helper()
	ctx := t.Context()
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "dlq"))})
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "q")), Attributes: map[string]string{
		"VisibilityTimeout": strconv.Itoa(visibility),
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, queueArn(t, c, aws.ToString(dlq.QueueUrl)), maxReceive),
	}})
	if err != nil {
		t.Fatal(err)
	}
	url = aws.ToString(q.QueueUrl)
	return url, queueArn(t, c, url), aws.ToString(dlq.QueueUrl)
}

func queueArn(t *testing.T, c *sqs.Client, url string) string {
	t.Helper()
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)]
}

// TestRun feeds a queue to two fixed instances whose function fails the
// records with body "fail": the others are deleted after one invocation,
// the failing one is received maxReceiveCount times and then sits in the
// dead-letter queue; every invocation is reported with its instance and
// response.
func TestRun(t *testing.T) {
	c := awsemu.SQS(t)
	url, arn, dlq := queues(t, c, 2, 3)
	var mu sync.Mutex
	receives := map[string]int{}
	var sources []string
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.SQSEvent
		_ = json.NewDecoder(r.Body).Decode(&ev)
		var resp events.SQSEventResponse
		mu.Lock()
		for _, rec := range ev.Records {
			receives[rec.Body]++
			sources = append(sources, rec.EventSourceARN+" "+rec.Attributes["ApproximateReceiveCount"])
			if rec.Body == "fail" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			}
		}
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(resp)
	})
	var fns []*rie.Function
	for range 2 {
		srv := httptest.NewServer(fn)
		t.Cleanup(srv.Close)
		fns = append(fns, &rie.Function{URL: srv.URL})
	}
	for _, body := range []string{"ok-1", "ok-2", "fail"} {
		if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	var invs []Invocation
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{SQS: c, QueueURL: url, QueueARN: arn, Window: 200 * time.Millisecond, Functions: fns,
			Done: func(inv Invocation) {
				mu.Lock()
				invs = append(invs, inv)
				mu.Unlock()
			}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 1 && aws.ToString(out.Messages[0].Body) == "fail" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing message did not reach the dead-letter queue; receives %v", receives)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if receives["ok-1"] != 1 || receives["ok-2"] != 1 || receives["fail"] != 3 {
		t.Errorf("receives %v, want ok-1 and ok-2 once, fail 3 times (maxReceiveCount)", receives)
	}
	if want := arn + " 1"; sources[0] != want {
		t.Errorf("first record source %q, want %q", sources[0], want)
	}
	failed := 0
	for _, inv := range invs {
		if inv.Err != nil || inv.Instance < 0 || inv.Instance > 1 || inv.End.Before(inv.Start) || len(inv.Event.Records) == 0 {
			t.Errorf("invocation %+v", inv)
		}
		failed += len(inv.Response.BatchItemFailures)
	}
	if failed != 3 {
		t.Errorf("%d records reported failed over %d invocations, want 3", failed, len(invs))
	}
}
