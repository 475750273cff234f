package lambdalocal

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/esm"
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

// TestMappingFailedInvocation: a batch whose invocation crashes its
// execution environment is not deleted: it comes back after the visibility
// timeout, to a new environment of the function's pool.
func TestMappingFailedInvocation(t *testing.T) {
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
	m := &esm.Mapping{SQS: c, QueueURL: url, QueueARN: arn, BatchSize: 10, ReportBatchItemFailures: true}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx, 1, target{pool: p, timeout: 5 * time.Second}); close(done) }()
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
