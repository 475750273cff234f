package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/dynamo"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/esm"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// The big job: one MX host, a politeness budget that makes the job last
// many invocations, and a queue that dead-letters after few receives.
const (
	bigJobAddresses  = 2000
	bigJobRcptsPerMX = 1200 // a minute: the job needs 100 s of the host's budget
	bigJobTimeout    = 30   // s, the functions' deadline
	bigJobMaxReceive = 3
	bigJobInstances  = 2
)

// TestBigSingleProviderJob sends 2 000 addresses of one domain through the
// API and worker functions under the Lambda RIE, the SQS and DynamoDB
// emulators between them. The MX host's budget lets a worker probe a
// session of the job only every few seconds, so the job takes many more
// invocations than the queue's maxReceiveCount: the worker sends what it
// cannot probe now back to the queue, delayed until its booked budget,
// instead of waiting or failing the record. Every address is stored once
// and nothing reaches the dead-letter queue.
func TestBigSingleProviderJob(t *testing.T) {
	if testing.Short() {
		t.Skip("about two minutes of politeness; skipped in -short mode")
	}
	ctx := context.Background()
	dns := dnstest.Start(t, nil)
	mail := smtptest.Start(t, smtptest.Options{Pipelining: true, CatchAll: true})
	dns.AddMX("big.test.", 10, "mx.big.test.")
	dns.AddA("mx.big.test.", mail.Host())
	proxy := sockstest.Start(t, sockstest.Options{User: "lambda", Pass: "proxy-pass"})

	ddb := awsemu.DynamoDB(t)
	table := awsemu.Name(t, "big")
	if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	sq := awsemu.SQS(t)
	queueURL, queueARN, dlqURL := bigJobQueues(t, sq)
	env := []string{
		"MAILPROBE_TABLE=" + table, "MAILPROBE_QUEUE_URL=" + queueURL,
		"MAILPROBE_DYNAMODB_ENDPOINT=" + aws.ToString(ddb.Options().BaseEndpoint),
		"MAILPROBE_SQS_ENDPOINT=" + aws.ToString(sq.Options().BaseEndpoint),
		"RCH__HEADER_SECRET=test-secret", "MAILPROBE_PROXIES=" + proxy.URL(),
		fmt.Sprintf("RCH__SMTP_PORT=%d", mail.Port()), "RCH__SMTP_TIMEOUT=5", "RCH__DNS=" + dns.Addr,
		"RCH__ALLOW_PRIVATE_MX=true", "RCH__WORKER__RCPTS_PER_MINUTE_PER_MX=" + strconv.Itoa(bigJobRcptsPerMX),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(bigJobTimeout),
	}
	api := rie.Start(t, rie.Build(t, "./functions/api"), env...)
	s := &stack{api: api}
	emails := make([]string, bigJobAddresses)
	for i := range emails {
		emails[i] = fmt.Sprintf("user%04d@big.test", i)
	}
	body, _ := json.Marshal(map[string]any{"input": emails})
	resp := s.call(t, withBody(t, withPath(t, event(t, "api-bulk-create.json"), "/v1/bulk"), body))
	var created struct {
		JobID json.Number `json:"job_id"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &created); err != nil || resp.StatusCode != 200 {
		t.Fatalf("bulk create: %d %s", resp.StatusCode, resp.Body)
	}

	var fns []*rie.Function
	for range bigJobInstances {
		fns = append(fns, rie.Start(t, rie.Build(t, "./functions/sqsworker"), env...))
	}
	var mu sync.Mutex
	var invs []esm.Invocation
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- esm.Run(runCtx, esm.Config{SQS: sq, QueueURL: queueURL, QueueARN: queueARN, Window: time.Second,
			Functions: fns, Timeout: bigJobTimeout * time.Second, Done: func(inv esm.Invocation) {
				mu.Lock()
				invs = append(invs, inv)
				mu.Unlock()
			}})
	}()
	st := dynamo.New(ddb, table)
	id := created.JobID.String()
	job := waitForJob(t, st, id, 5*time.Minute)
	stop()
	if err := <-done; err != nil {
		t.Errorf("event source mapping: %v", err)
	}

	recs, err := st.ListResults(ctx, id, 0, 2*bigJobAddresses)
	if err != nil {
		t.Fatal(err)
	}
	if job.Processed != bigJobAddresses || len(recs) != bigJobAddresses {
		t.Errorf("job processed %d, %d results stored; want %d each", job.Processed, len(recs), bigJobAddresses)
	}
	for i, r := range recs {
		if r.Index != i || r.Input != emails[i] {
			t.Fatalf("result %d is index %d %q, want %q: each address stored once, in order", i, r.Index, r.Input, emails[i])
		}
	}
	if n := queueLength(t, sq, dlqURL); n != 0 {
		t.Errorf("%d messages in the dead-letter queue, want none", n)
	}
	failed := 0
	for _, inv := range invs {
		failed += len(inv.Response.BatchItemFailures)
		// An invocation past the function's deadline is one the emulator
		// answered "Task timed out": it failed.
		if inv.Err != nil {
			t.Errorf("invocation failed: %v", inv.Err)
		}
	}
	if len(invs) <= 3*bigJobMaxReceive || failed > 0 {
		t.Errorf("%d invocations, %d records failed; want many more invocations than maxReceiveCount (%d) and no failure",
			len(invs), failed, bigJobMaxReceive)
	}
	t.Logf("%d addresses in %d invocations; the server saw %d sessions, %d RCPTs", bigJobAddresses, len(invs), mail.Sessions(), mail.Rcpts())
}

// bigJobQueues creates the job queue, dead-lettering after
// bigJobMaxReceive receives, and its dead-letter queue.
func bigJobQueues(t *testing.T, sq *sqs.Client) (url, arn, dlqURL string) {
	t.Helper()
	ctx := context.Background()
	arnOf := func(u string) string {
		out, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes[string(types.QueueAttributeNameQueueArn)]
	}
	dlq, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "dlq"))})
	if err != nil {
		t.Fatal(err)
	}
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": arnOf(aws.ToString(dlq.QueueUrl)),
		"maxReceiveCount": strconv.Itoa(bigJobMaxReceive)})
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "jobs")),
		Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(2 * bigJobTimeout), "RedrivePolicy": string(redrive)}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl), arnOf(aws.ToString(q.QueueUrl)), aws.ToString(dlq.QueueUrl)
}

func queueLength(t *testing.T, sq *sqs.Client, url string) int {
	t.Helper()
	out, err := sq.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n
}

// waitForJob polls the store until the job completes, failing the test
// after limit.
func waitForJob(t *testing.T, st *dynamo.Store, id string, limit time.Duration) store.Job {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		job, err := st.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if job.Status() == store.StatusCompleted {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %d of %d processed after %v (waiting %v)", id, job.Processed, job.Total, limit, job.WaitingReasons)
		}
		time.Sleep(time.Second)
	}
}

// withBody replaces an API Gateway event's body.
func withBody(t *testing.T, ev, body []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev, &m); err != nil {
		t.Fatal(err)
	}
	m["body"] = string(body)
	b, _ := json.Marshal(m)
	return b
}
