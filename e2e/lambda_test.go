package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/dynamo"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	rie.Cleanup()
	os.Exit(code)
}

type stack struct {
	api, worker *rie.Function
	sqs         *sqs.Client
	queueURL    string
	store       *dynamo.Store
	env         []string
}

// deploy starts the loopback "internet" (DNS, proxy, mail servers), the
// emulated table and queue, and both functions configured like the SAM
// template configures them; mods may change their environment.
func deploy(t testing.TB, mods ...func(env []string) []string) *stack {
	t.Helper()
	ctx := context.Background()
	dns, proxy, mail := internet(t)

	ddb := awsemu.DynamoDB(t)
	table := awsemu.Name(t, "mailprobe")
	if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	sq := awsemu.SQS(t)
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "work"))})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"MAILPROBE_TABLE=" + table,
		"MAILPROBE_QUEUE_URL=" + aws.ToString(q.QueueUrl),
		"MAILPROBE_DYNAMODB_ENDPOINT=" + aws.ToString(ddb.Options().BaseEndpoint),
		"MAILPROBE_SQS_ENDPOINT=" + aws.ToString(sq.Options().BaseEndpoint),
		"RCH__HEADER_SECRET=test-secret",
		"MAILPROBE_PROXIES=" + proxy.URL(),
		fmt.Sprintf("RCH__SMTP_PORT=%d", mail.Port()),
		"RCH__SMTP_TIMEOUT=5",
		"RCH__DNS=" + dns.Addr,
		"RCH__ALLOW_PRIVATE_MX=true",
	}
	for _, m := range mods {
		env = m(env)
	}
	return &stack{
		api:      rie.Start(t, rie.Build(t, "./functions/api"), env...),
		worker:   rie.Start(t, rie.Build(t, "./functions/sqsworker"), env...),
		sqs:      sq,
		queueURL: aws.ToString(q.QueueUrl),
		store:    dynamo.New(ddb, table),
		env:      env,
	}
}

// internet starts the loopback "internet": DNS, a SOCKS5 proxy with a
// password, and the mail server of the test domains, where
// grey@example.net is greylisted every time.
func internet(t testing.TB) (*dnstest.Server, *sockstest.Server, *smtptest.Server) {
	t.Helper()
	dns := dnstest.Start(t, nil)
	proxy := sockstest.Start(t, sockstest.Options{User: "lambda", Pass: "proxy-pass"})
	mail := smtptest.Start(t, smtptest.Options{Users: map[string]string{
		"someone@example.com": "250 OK", "alice@example.com": "250 OK", "bob@example.com": "250 OK",
		"carol@example.org": "250 OK", "first@example.com": "250 OK", "third@example.com": "250 OK",
		"grey@example.net": smtptest.GreylistReply,
	}})
	for _, d := range []string{"example.com.", "example.org.", "example.net.", "mail.example.test."} {
		dns.AddMX(d, 10, "mx."+d)
		dns.AddA("mx."+d, mail.Host())
	}
	return dns, proxy, mail
}

func event(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *stack) call(t *testing.T, ev []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(s.api.Invoke(t, ev), &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestAPIEvents(t *testing.T) {
	s := deploy(t)
	tests := []struct {
		file   string
		status int
		body   string
	}{
		{"api-check-email.json", 200, `"is_reachable":"safe"`},
		{"api-check-email-v0.json", 200, `"is_reachable":"safe"`},
		{"api-check-email-bad-json.json", 400, `"error"`},
		{"api-check-email-missing-secret.json", 401, `"error"`},
		{"api-healthz.json", 200, ``},
		{"api-version.json", 200, `"version"`},
		{"api-openapi.json", 200, `"openapi":"3.1`},
		{"api-console.json", 200, `<bodydata-auth="secret"`},
		{"api-not-found.json", 404, `"error"`},
		{"api-bulk-status.json", 404, `"error"`},
		{"api-bulk-results-csv.json", 404, `"error"`},
		{"api-bulk-export.json", 404, `"error"`},
		{"api-bulk-create-v0.json", 200, `"job_id"`},
		{"api-bulk-create.json", 200, `"job_id"`},
		// The deployed stack checks its own proxy: reached, authenticated,
		// CONNECT to the MX of example.com, banner and EHLO through it.
		{"api-doctor.json", 200, `"name":"ehlo","proxy":"url1","status":"pass"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			resp := s.call(t, event(t, tt.file))
			if resp.StatusCode != tt.status || !strings.Contains(strings.ReplaceAll(resp.Body, " ", ""), tt.body) {
				t.Errorf("got %d %s, want %d containing %s", resp.StatusCode, resp.Body, tt.status, tt.body)
			}
		})
	}
}

// TestConsoleOnLambda: the API function serves the web console, its page
// and its scripts, with the strict Content-Security-Policy, as text bodies
// API Gateway passes through.
func TestConsoleOnLambda(t *testing.T) {
	s := deploy(t)
	for _, tt := range []struct{ path, ctype, body string }{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/console/main.js">`},
		{"/console/", "text/html; charset=utf-8", `data-auth="secret"`},
		{"/console/main.js", "text/javascript; charset=utf-8", `import`},
	} {
		resp := s.call(t, withPath(t, event(t, "api-console.json"), tt.path))
		if resp.StatusCode != 200 || resp.IsBase64Encoded || !strings.Contains(resp.Body, tt.body) {
			t.Errorf("%s: %d base64=%v, body lacks %s", tt.path, resp.StatusCode, resp.IsBase64Encoded, tt.body)
		}
		if got := resp.Headers["Content-Type"]; got != tt.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tt.path, got, tt.ctype)
		}
		if csp := resp.Headers["Content-Security-Policy"]; !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q", tt.path, csp)
		}
	}
}

// TestBulkThroughQueue follows a bulk job from the API through SQS to the
// worker and back: the messages the API enqueued are received from the SQS
// emulator and handed to the worker function as Lambda's event source would.
func TestBulkThroughQueue(t *testing.T) {
	s := deploy(t)
	resp := s.call(t, event(t, "api-bulk-create.json"))
	var created struct {
		JobID json.Number `json:"job_id"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &created); err != nil || resp.StatusCode != 200 {
		t.Fatalf("bulk create: %d %s", resp.StatusCode, resp.Body)
	}
	ev := s.receive(t)
	if len(ev.Records) != 1 {
		// Two small domains travel in one message, each domain's
		// addresses together.
		t.Fatalf("the API enqueued %d messages, want the two small domains packed into 1", len(ev.Records))
	}
	body, _ := json.Marshal(ev)
	var out events.SQSEventResponse
	if err := json.Unmarshal(s.worker.Invoke(t, body), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures: %+v", out.BatchItemFailures)
	}
	status := withPath(t, event(t, "api-bulk-status.json"), "/v1/bulk/"+created.JobID.String())
	resp = s.call(t, status)
	for _, want := range []string{`"job_status":"Completed"`, `"total_processed":3`, `"total_safe":3`} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("status %d %s lacks %s", resp.StatusCode, resp.Body, want)
		}
	}
	csv := withPath(t, event(t, "api-bulk-results-csv.json"), "/v1/bulk/"+created.JobID.String()+"/results")
	resp = s.call(t, csv)
	if resp.StatusCode != 200 || strings.Count(resp.Body, "\n") != 4 {
		t.Errorf("csv: %d\n%s", resp.StatusCode, resp.Body)
	}
}

func TestWorkerEvents(t *testing.T) {
	// The events' addresses share one MX: at the default 60 RCPT/min the
	// worker would hand most of them back to the queue for later (it never
	// waits long for politeness in an invocation; see TestBigSingleProviderJob),
	// and this test is about what one delivery stores.
	s := deploy(t, func(env []string) []string {
		return append(env, "RCH__WORKER__RCPTS_PER_MINUTE_PER_MX=0")
	})
	tests := []struct {
		file     string
		failures []string
		stored   map[string][]int // job id -> indexes with a result
	}{
		{"sqs-one-address.json", nil, map[string][]int{"job-example-one": {0}}},
		{"sqs-batch.json", nil, map[string][]int{"job-example-batch": {0, 1, 2, 3, 4}}},
		{"sqs-poison.json", []string{"0e6b6c7e-6f1a-4c3e-9b1d-000000000002"}, map[string][]int{"job-example-poison": {0, 2}}},
		{"sqs-reacher-shape.json", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			first := s.deliver(t, tt.file)
			if strings.Join(first, ",") != strings.Join(tt.failures, ",") {
				t.Errorf("batch item failures = %v, want %v", first, tt.failures)
			}
			type key struct {
				job string
				i   int
			}
			stored := map[key]store.Record{}
			for job, idxs := range tt.stored {
				for _, i := range idxs {
					rec, err := s.result(job, i)
					if err != nil {
						t.Errorf("result %s#%d: %v", job, i, err)
					}
					stored[key{job, i}] = rec
				}
			}
			// Delivering the same event again answers the same and
			// stores nothing new: every stored result is the first one.
			if again := s.deliver(t, tt.file); strings.Join(again, ",") != strings.Join(first, ",") {
				t.Errorf("redelivery: batch item failures = %v, want %v", again, first)
			}
			for k, rec := range stored {
				again, err := s.result(k.job, k.i)
				if err != nil || !again.CreatedAt.Equal(rec.CreatedAt) || string(again.Result) != string(rec.Result) {
					t.Errorf("result %s#%d changed on redelivery (%v)", k.job, k.i, err)
				}
			}
		})
	}
	if strings.Contains(s.worker.Logs(), "proxy-pass") || strings.Contains(s.api.Logs(), "proxy-pass") {
		t.Error("a function logged the proxy password")
	}
}

// result reads the stored result of (job, i).
func (s *stack) result(job string, i int) (store.Record, error) {
	recs, err := s.store.ListResults(context.Background(), job, 0, 1000)
	if err != nil {
		return store.Record{}, err
	}
	for _, r := range recs {
		if r.Index == i {
			return r, nil
		}
	}
	return store.Record{}, store.ErrNotFound
}

// deliver hands an event file to the worker and returns the ids of the
// records it reported as failed.
func (s *stack) deliver(t *testing.T, file string) []string {
	t.Helper()
	var out events.SQSEventResponse
	if err := json.Unmarshal(s.worker.Invoke(t, event(t, file)), &out); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range out.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func (s *stack) receive(t *testing.T) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	for range 5 {
		out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:work",
				AWSRegion: "us-east-1",
			})
		}
		if len(ev.Records) > 0 && len(out.Messages) == 0 {
			break
		}
	}
	return ev
}

// withPath rewrites an API Gateway event to another path.
func withPath(t *testing.T, ev []byte, path string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev, &m); err != nil {
		t.Fatal(err)
	}
	m["rawPath"] = path
	if rc, ok := m["requestContext"].(map[string]any); ok {
		if h, ok := rc["http"].(map[string]any); ok {
			h["path"] = path
		}
	}
	b, _ := json.Marshal(m)
	return b
}
