package sqslambda_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// emuQueue creates a queue with the template's 1805 s visibility timeout
// and a dead-letter queue after maxReceive receives, on the SQS emulator.
func emuQueue(t *testing.T, c *sqs.Client, maxReceive int) (url, arn, dlqURL string) {
	t.Helper()
	ctx := context.Background()
	queueArn := func(u *string) string {
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: u, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			t.Fatalf("GetQueueAttributes: %v", err)
		}
		return a.Attributes[string(types.QueueAttributeNameQueueArn)]
	}
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "dlq"))})
	if err != nil {
		t.Fatalf("CreateQueue(dlq): %v", err)
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "q")), Attributes: map[string]string{
		"VisibilityTimeout": "1805",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + queueArn(dlq.QueueUrl) + `","maxReceiveCount":"` + strconv.Itoa(maxReceive) + `"}`,
	}})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	t.Cleanup(func() {
		for _, u := range []*string{q.QueueUrl, dlq.QueueUrl} {
			_, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: u})
		}
	})
	return aws.ToString(q.QueueUrl), queueArn(q.QueueUrl), aws.ToString(dlq.QueueUrl)
}

// receive long-polls once and returns the messages as Lambda event records.
func receive(t *testing.T, c *sqs.Client, url, arn string) []events.SQSMessage {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	var recs []events.SQSMessage
	for _, m := range out.Messages {
		recs = append(recs, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: m.Attributes, EventSourceARN: arn,
		})
	}
	return recs
}

// TestVisibilityOnSQSEmulator runs Handle on messages received from the
// emulator, with the real client as Config.Visibility: a message the
// consumer could not settle comes back after RedeliveryDelay and a poison
// one at once, although the queue's visibility timeout is 1805 s, and the
// poison one reaches the dead-letter queue after maxReceiveCount receives.
func TestVisibilityOnSQSEmulator(t *testing.T) {
	c := awsemu.SQS(t)
	ctx := context.Background()
	url, arn, dlqURL := emuQueue(t, c, 3)
	for _, b := range []string{body, `{"version":1,"job_id":`} {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)}); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
	}
	h := sqslambda.New(sqslambda.Config{QueueURL: url, RedeliveryBase: 2 * time.Second, Visibility: c}, &fated{fate: queue.Again})
	// receives counts the deliveries of each body; the poison message's
	// last receive moves it to the dead-letter queue instead.
	receives := map[string]int{}
	var dead []events.SQSMessage
	deadline := time.Now().Add(2 * time.Minute)
	for len(dead) == 0 || receives[body] < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("gave up: %d dead letters, %d receives of the unfinished message", len(dead), receives[body])
		}
		recs := receive(t, c, url, arn)
		for _, r := range recs {
			receives[r.Body]++
		}
		if len(recs) > 0 {
			resp, err := h.Handle(ctx, events.SQSEvent{Records: recs})
			if err != nil || len(resp.BatchItemFailures) != len(recs) {
				t.Fatalf("Handle = %+v, %v; want every record failed", resp, err)
			}
		}
		dead = append(dead, receive(t, c, dlqURL, "")...)
	}
	if dead[0].Body == body {
		t.Errorf("dead letter %+v, want the poison message", dead[0])
	}
}
