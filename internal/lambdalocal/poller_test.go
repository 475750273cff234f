package lambdalocal

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
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
	dlqArn := attr(t, c, aws.ToString(dlq.QueueUrl), "QueueArn")
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "q")), Attributes: map[string]string{
		"VisibilityTimeout": strconv.Itoa(visibility),
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, dlqArn, maxReceive),
	}})
	if err != nil {
		t.Fatal(err)
	}
	url = aws.ToString(q.QueueUrl)
	return url, attr(t, c, url, "QueueArn"), aws.ToString(dlq.QueueUrl)
}

func attr(t *testing.T, c *sqs.Client, url, name string) string {
	t.Helper()
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeName(name)}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes[name]
}

// TestPoller runs the event source against the SQS emulator with a
// function that fails the records whose body is "fail": the others are
// deleted after one invocation, the failing one is received
// maxReceiveCount times and then sits in the dead-letter queue.
func TestPoller(t *testing.T) {
	c := awsemu.SQS(t)
	url, arn, dlq := queues(t, c, 2, 3)
	var mu sync.Mutex
	receives := map[string]int{}
	var sources []string
	p, _ := fakePool(t, 2, func(w http.ResponseWriter, r *http.Request) {
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
	for _, body := range []string{"ok-1", "ok-2", "fail"} {
		if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	pl := &poller{sqs: c, queueURL: url, queueARN: arn, log: slog.New(slog.DiscardHandler),
		ev:     samtemplate.SQSEvent{BatchSize: 10, BatchingWindow: 200 * time.Millisecond, ReportBatchItemFailures: true},
		target: target{pool: p, timeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { pl.run(ctx, 2); close(done) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
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
}

// TestPollerFailedInvocation: a batch whose invocation fails is not
// deleted: it comes back after the visibility timeout.
func TestPollerFailedInvocation(t *testing.T) {
	c := awsemu.SQS(t)
	url, arn, _ := queues(t, c, 1, 5)
	var mu sync.Mutex
	calls := 0
	p, started := fakePool(t, 1, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway) // the runtime died
			return
		}
		_, _ = w.Write([]byte(`{}`))
	})
	if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	pl := &poller{sqs: c, queueURL: url, queueARN: arn, log: slog.New(slog.DiscardHandler),
		ev:     samtemplate.SQSEvent{BatchSize: 10, ReportBatchItemFailures: true},
		target: target{pool: p, timeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { pl.run(ctx, 1); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := calls
		mu.Unlock()
		if n >= 2 && attr(t, c, url, "ApproximateNumberOfMessages") == "0" && attr(t, c, url, "ApproximateNumberOfMessagesNotVisible") == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d invocations the message is still queued", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if *started != 2 {
		t.Errorf("%d instances started, want 2: the crashed one is replaced", *started)
	}
}
