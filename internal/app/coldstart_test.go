package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// fakeVisibility records ChangeMessageVisibility calls.
type fakeVisibility struct {
	mu    sync.Mutex
	calls map[string]int32 // receipt handle → visibility timeout
}

func (f *fakeVisibility) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput,
	_ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[aws.ToString(in.ReceiptHandle)] = in.VisibilityTimeout
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// TestColdWorker: while the worker cannot start, a batch fails with a
// function error (counted by Lambda's Errors metric) and each record of the
// queue comes back on the redelivery schedule (30 s, 60 s, ... 900 s)
// instead of after the queue's 1805 s; a record of another queue is left
// alone. Once a start succeeds, batches go to the worker.
func TestColdWorker(t *testing.T) {
	vis := &fakeVisibility{calls: map[string]int32{}}
	starts := 0
	ok := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "handled"}}}, nil
	}
	build := func(context.Context) (WorkerHandler, error) {
		starts++
		if starts < 3 {
			return nil, errors.New("proxy_urls[0]: resolve ssm:/mailprobe/proxies: AccessDenied")
		}
		return ok, nil
	}
	c := newColdWorker(build, vis, "https://sqs.us-east-1.amazonaws.com/123/mailprobe-JobQueue-X", 30*time.Second, slog.New(slog.DiscardHandler))
	rec := func(handle, receives, queue string) events.SQSMessage {
		return events.SQSMessage{MessageId: handle, ReceiptHandle: handle, EventSourceARN: "arn:aws:sqs:us-east-1:123:" + queue,
			Attributes: map[string]string{"ApproximateReceiveCount": receives}}
	}
	if _, err := c.handler(context.Background()); err == nil {
		t.Fatal("first start succeeded")
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		rec("first", "1", "mailprobe-JobQueue-X"), rec("third", "3", "mailprobe-JobQueue-X"),
		rec("late", "12", "mailprobe-JobQueue-X"), rec("other", "1", "another-queue"),
	}}
	if _, err := c.handle(context.Background(), ev); !errors.Is(err, ErrWorkerNotStarted) {
		t.Fatalf("batch error = %v, want ErrWorkerNotStarted", err)
	}
	want := map[string]int32{"first": 30, "third": 120, "late": 900}
	for h, v := range want {
		if got, ok := vis.calls[h]; !ok || got != v {
			t.Errorf("visibility of %s = %d (set: %v), want %d s", h, got, ok, v)
		}
	}
	if _, ok := vis.calls["other"]; ok {
		t.Error("a record of another queue had its visibility changed")
	}
	resp, err := c.handle(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "handled" {
		t.Errorf("after a successful start: %+v, %v; want the worker's answer", resp, err)
	}
	if starts != 3 {
		t.Errorf("%d start attempts, want 3 (one per batch until one succeeds, then none)", starts)
	}
}
