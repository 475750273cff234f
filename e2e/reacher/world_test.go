package reacher

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/store/dynamo"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
	"github.com/mailprobe/mailprobe/internal/testenv/servetest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// secret is the x-reacher-secret of both deployments.
const secret = "compat-secret"

// world is the loopback "internet" a Reacher client's requests reach:
// DNS, the configured SOCKS5 proxy and another one for requests that
// bring their own, a mail server, a tarpit, a Gravatar stand-in and a
// webhook receiver.
type world struct {
	dns      *dnstest.Server
	mail     *smtptest.Server
	tarpit   *smtptest.Server
	proxy    *sockstest.Server // the configured one
	reqProxy *sockstest.Server // the one a request names
	gravatar *httptest.Server
	hooks    *receiver
}

// The mailboxes of compat.test.
var mailboxes = map[string]string{
	"alice@compat.test": smtptest.AcceptReply,
	"carol@compat.test": smtptest.AcceptReply,
	"admin@compat.test": smtptest.AcceptReply,
	"full@compat.test":  "552 5.2.2 mailbox full",
	"spam@compat.test":  "554 5.7.1 Service unavailable; client host [127.0.0.1] blocked using zen.spamhaus.org",
}

func startWorld(t *testing.T) *world {
	t.Helper()
	w := &world{
		dns:      dnstest.Start(t, nil),
		mail:     smtptest.Start(t, smtptest.Options{Users: mailboxes}),
		tarpit:   smtptest.Start(t, smtptest.Options{NoBanner: true}),
		proxy:    sockstest.Start(t, sockstest.Options{User: "configured", Pass: "proxy-pass"}),
		reqProxy: sockstest.Start(t, sockstest.Options{User: "client", Pass: "client-pass"}),
		hooks:    &receiver{},
	}
	w.dns.AddMX("compat.test.", 10, "mx.compat.test.")
	w.dns.AddA("mx.compat.test.", w.mail.Host())
	sum := md5.Sum([]byte("alice@compat.test"))
	alice := "/avatar/" + hex.EncodeToString(sum[:])
	w.gravatar = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != alice {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "image/png")
		_, _ = rw.Write([]byte("png"))
	}))
	t.Cleanup(w.gravatar.Close)
	srv := httptest.NewServer(w.hooks)
	t.Cleanup(srv.Close)
	w.hooks.url = srv.URL
	return w
}

// env is the configuration both deployments share.
func (w *world) env() []string {
	return []string{
		"MAILPROBE_PROXIES=" + w.proxy.URL(),
		fmt.Sprintf("RCH__SMTP_PORT=%d", w.mail.Port()),
		"RCH__SMTP_TIMEOUT=5",
		"RCH__DNS=" + w.dns.Addr,
		"RCH__ALLOW_PRIVATE_MX=true",       // the test servers are on loopback
		"RCH__ALLOW_PRIVATE_WEBHOOKS=true", // so is the webhook receiver
		"RCH__GRAVATAR_URL=" + w.gravatar.URL,
		"RCH__BACKEND_NAME=compat",
		"RCH__HEADER_SECRET=" + secret,
	}
}

// receiver records the webhook POSTs.
type receiver struct {
	url    string
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, b)
	r.heads = append(r.heads, req.Header.Clone())
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) received() ([][]byte, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]http.Header(nil), r.heads...)
}

// request is what a Reacher client sends.
type request struct {
	method, path, query string
	header              map[string]string // x-reacher-secret and content-type are set unless given ("" removes)
	body                string
}

// response is what it gets back, redirects followed as an HTTP client
// follows them.
type response struct {
	status int
	header http.Header
	body   []byte
	via    int // the redirect status that was followed, if any
}

// target is one deployment of mailprobe.
type target interface {
	name() string
	do(t *testing.T, r request) response
	// settle runs the queued work to the end: the embedded worker of
	// serve does it by itself; on Lambda the test plays the SQS event
	// source.
	settle(t *testing.T, until func() bool)
}

// headers returns the request's headers with the defaults a Reacher
// client sends.
func (r request) headers() map[string]string {
	h := map[string]string{"x-reacher-secret": secret}
	if r.method == http.MethodPost {
		h["content-type"] = "application/json"
	}
	for k, v := range r.header {
		h[strings.ToLower(k)] = v
	}
	for k, v := range h {
		if v == "" {
			delete(h, k)
		}
	}
	return h
}

// serveTarget is `mailprobe serve`, the built binary, over real HTTP.
type serveTarget struct {
	base string
}

func (s *serveTarget) name() string { return "serve" }

func startServe(t *testing.T, w *world) *serveTarget {
	t.Helper()
	return &serveTarget{base: servetest.Exec(t, servetest.Build(t), w.env()).URL}
}

func (s *serveTarget) do(t *testing.T, r request) response {
	t.Helper()
	u := s.base + r.path
	if r.query != "" {
		u += "?" + r.query
	}
	return httpDo(t, r.method, u, r.headers(), r.body)
}

// settle waits for the embedded worker.
func (s *serveTarget) settle(t *testing.T, until func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !until(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the embedded worker did not finish the job")
		}
	}
}

// httpDo sends one request with net/http, which follows redirects as
// Reacher's clients' HTTP libraries do, and records the redirect.
func httpDo(t *testing.T, method, u string, headers map[string]string, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	via := 0
	client := &http.Client{CheckRedirect: func(_ *http.Request, prev []*http.Request) error {
		via = prev[len(prev)-1].Response.StatusCode
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b, via: via}
}

// lambdaTarget is the API function under the Lambda RIE, behind the events
// API Gateway would send, with the worker function and the emulated
// table, queue and export bucket.
type lambdaTarget struct {
	api, worker *rie.Function
	sqs         *sqs.Client
	queueURL    string
}

func (l *lambdaTarget) name() string { return "lambda" }

func startLambda(t *testing.T, w *world) *lambdaTarget {
	t.Helper()
	ctx := context.Background()
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
	bucket := strings.ToLower(strings.ReplaceAll(awsemu.Name(t, "exports"), "_", "-"))
	if len(bucket) > 63 {
		bucket = strings.Trim(bucket[len(bucket)-63:], "-")
	}
	if _, err := awsemu.S3(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	env := append(w.env(),
		"MAILPROBE_TABLE="+table,
		"MAILPROBE_QUEUE_URL="+aws.ToString(q.QueueUrl),
		"MAILPROBE_DYNAMODB_ENDPOINT="+aws.ToString(ddb.Options().BaseEndpoint),
		"MAILPROBE_SQS_ENDPOINT="+aws.ToString(sq.Options().BaseEndpoint),
		"MAILPROBE_S3_ENDPOINT="+awsemu.S3Endpoint(t),
		"MAILPROBE_EXPORT_BUCKET="+bucket,
		// s3rver checks signatures against its own key; the other
		// emulators take any.
		"AWS_ACCESS_KEY_ID="+awsemu.S3AccessKey, "AWS_SECRET_ACCESS_KEY="+awsemu.S3SecretKey,
	)
	return &lambdaTarget{
		api:      rie.Start(t, rie.Build(t, "./functions/api"), env...),
		worker:   rie.Start(t, rie.Build(t, "./functions/sqsworker"), env...),
		sqs:      sq,
		queueURL: aws.ToString(q.QueueUrl),
	}
}

// do sends r as API Gateway's payload 2.0 event, and follows a 303 to its
// Location with plain HTTP, as a client would.
func (l *lambdaTarget) do(t *testing.T, r request) response {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: r.path, RawQueryString: r.query,
		Headers: r.headers(), Body: r.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "abcdef1234.execute-api.us-east-1.amazonaws.com", RequestID: "compat",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.method, Path: r.path,
				Protocol: "HTTP/1.1", SourceIP: "203.0.113.7"},
		},
	}
	ev.Headers["host"] = ev.RequestContext.DomainName
	if q, err := url.ParseQuery(r.query); err == nil && len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k := range q {
			ev.QueryStringParameters[k] = q.Get(k)
		}
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var out events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(l.api.Invoke(t, raw), &out); err != nil {
		t.Fatal(err)
	}
	resp := response{status: out.StatusCode, header: http.Header{}, body: []byte(out.Body)}
	for k, v := range out.Headers {
		resp.header.Set(k, v)
	}
	if out.IsBase64Encoded {
		if resp.body, err = base64.StdEncoding.DecodeString(out.Body); err != nil {
			t.Fatal(err)
		}
	}
	if out.StatusCode == http.StatusSeeOther {
		next := httpDo(t, http.MethodGet, resp.header.Get("Location"), nil, "")
		next.via = http.StatusSeeOther
		return next
	}
	return resp
}

// settle plays the SQS event source: it receives the queued messages,
// hands them to the worker function and deletes those it finished.
func (l *lambdaTarget) settle(t *testing.T, until func() bool) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(90 * time.Second); !until(); {
		if time.Now().After(deadline) {
			t.Fatal("the worker function did not finish the job")
		}
		out, err := l.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(l.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			continue
		}
		var ev events.SQSEvent
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), EventSource: "aws:sqs", AWSRegion: "us-east-1",
				EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:work",
			})
		}
		raw, _ := json.Marshal(ev)
		var res events.SQSEventResponse
		if err := json.Unmarshal(l.worker.Invoke(t, raw), &res); err != nil {
			t.Fatal(err)
		}
		failed := map[string]bool{}
		for _, f := range res.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range out.Messages {
			if failed[aws.ToString(m.MessageId)] {
				continue
			}
			if _, err := l.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(l.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
