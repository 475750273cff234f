package sqsq

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/queuetest"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

// createQueue makes a queue (and, with maxReceive > 0, its dead-letter queue
// wired by a RedrivePolicy) on fauxqs and returns their URLs.
func createQueue(t *testing.T, c *sqs.Client, visibility time.Duration, maxReceive int) (url, dlqURL string) {
	t.Helper()
	ctx := context.Background()
	attrs := map[string]string{"VisibilityTimeout": fmt.Sprint(int(visibility / time.Second))}
	if maxReceive > 0 {
		dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "dlq"))})
		if err != nil {
			t.Fatalf("CreateQueue(dlq): %v", err)
		}
		dlqURL = aws.ToString(dlq.QueueUrl)
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			t.Fatalf("GetQueueAttributes(dlq): %v", err)
		}
		attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`,
			a.Attributes[string(types.QueueAttributeNameQueueArn)], maxReceive)
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "q")), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	t.Cleanup(func() {
		for _, u := range []string{aws.ToString(out.QueueUrl), dlqURL} {
			if u != "" {
				_, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
			}
		}
	})
	return aws.ToString(out.QueueUrl), dlqURL
}

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) queuetest.Harness {
		c := awsemu.SQS(t)
		url, dlqURL := createQueue(t, c, cfg.Visibility, cfg.MaxReceiveCount)
		h := queuetest.Harness{Queue: New(c, url)}
		if dlqURL != "" {
			h.DeadLetter = New(c, dlqURL)
		}
		return h
	})
}

// flakyBatch fails part of the first SendMessageBatch call on SQS's side, the
// way SQS reports a partial batch failure.
type flakyBatch struct {
	*sqs.Client
	calls atomic.Int64
}

func (f *flakyBatch) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if f.calls.Add(1) > 1 {
		return f.Client.SendMessageBatch(ctx, in, optFns...)
	}
	half := len(in.Entries) / 2
	sent := *in
	sent.Entries = in.Entries[:half]
	out, err := f.Client.SendMessageBatch(ctx, &sent, optFns...)
	if err != nil {
		return nil, err
	}
	for _, e := range in.Entries[half:] {
		out.Failed = append(out.Failed, types.BatchResultErrorEntry{
			Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("injected"), SenderFault: false,
		})
	}
	return out, nil
}

func TestSendRetriesPartialFailure(t *testing.T) {
	ctx := context.Background()
	c := awsemu.SQS(t)
	url, _ := createQueue(t, c, 30*time.Second, 0)
	q := New(&flakyBatch{Client: c}, url)
	q.backoff = time.Millisecond
	var msgs []queue.Message
	for i := range 8 {
		msgs = append(msgs, queue.Message{Version: 1, JobID: "j", Items: []queue.Item{{Index: i, Email: fmt.Sprintf("u%d@x", i)}}})
	}
	if err := q.Send(ctx, msgs, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	seen := map[int]bool{}
	for deadline := time.Now().Add(30 * time.Second); len(seen) < len(msgs) && time.Now().Before(deadline); {
		ds, err := q.Receive(ctx, 10, time.Second)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		for _, d := range ds {
			if seen[d.Message.Items[0].Index] {
				t.Errorf("index %d received twice", d.Message.Items[0].Index)
			}
			seen[d.Message.Items[0].Index] = true
		}
	}
	if len(seen) != len(msgs) {
		t.Errorf("received %d messages, want %d", len(seen), len(msgs))
	}
}

func TestPack(t *testing.T) {
	third := bytes.Repeat([]byte("x"), queue.MaxBodyBytes/3)
	tests := []struct {
		name   string
		bodies [][]byte
		want   string
	}{
		{"ten per batch", make([][]byte, 23), "[[0 1 2 3 4 5 6 7 8 9] [10 11 12 13 14 15 16 17 18 19] [20 21 22]]"},
		{"bytes per batch", [][]byte{third, third, third, third, []byte("y")}, "[[0 1 2] [3 4]]"},
		{"none", nil, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(pack(tt.bodies)); got != tt.want {
				t.Errorf("pack = %s, want %s", got, tt.want)
			}
		})
	}
}
