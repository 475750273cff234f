// Package cost measures what a bulk job costs on AWS (make cost): a job
// over a realistic domain mix goes through the real API and worker Lambda
// bootstraps under the Lambda RIE, against the SQS and DynamoDB emulators,
// with meters in front of the emulators counting every call as AWS bills
// it, and the politeness budget compressed in time so that hours of
// waiting take minutes with the same messages and hand-backs.
package cost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/dynamo"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/esm"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	rie.Cleanup()
	os.Exit(code)
}

// secret is the API's header secret in the run.
const secret = "cost-secret"

func envOr(key string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(key), 64); err == nil && v > 0 {
		return v
	}
	return def
}

// TestCost runs one bulk job and writes the report to $MAILPROBE_COST_REPORT
// (and the test log). It runs only when MAILPROBE_COST is set: make cost.
func TestCost(t *testing.T) {
	if os.Getenv("MAILPROBE_COST") == "" {
		t.Skip("make cost runs this measurement (MAILPROBE_COST=1)")
	}
	n := int(envOr("MAILPROBE_COST_ADDRESSES", 10000))
	scale := envOr("MAILPROBE_COST_SCALE", 20)
	m, doms := buildMix(n)
	dep := readDeployment(t)
	st := deployMetered(t, doms, scale, dep)
	jobID := st.createJob(t, m.emails)
	t.Logf("job %s: %d addresses, %d domains (gmail.com %d, Workspace %d, greylisting %d), time ×%.0f",
		jobID, n, m.domains, m.provider, m.workspace, m.greylist, scale)

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var invs []esm.Invocation
	done := make(chan error, 1)
	go func() {
		done <- esm.Run(ctx, esm.Config{
			SQS: st.esmSQS, QueueURL: st.queueURL, QueueARN: st.queueARN,
			BatchSize: dep.batchSize, Window: time.Duration(float64(dep.batchingWindow) / scale), Functions: st.workers,
			Timeout: dep.workerTimeout,
			Done: func(inv esm.Invocation) {
				mu.Lock()
				invs = append(invs, inv)
				mu.Unlock()
			},
		})
	}()
	job := st.wait(t, jobID, n)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("event source mapping: %v", err)
	}

	tot := totals{addresses: n, scale: scale, workerMB: dep.workerMB, apiMB: dep.apiMB}
	tot.dead = st.deadLetters(t)
	st.readBack(t, jobID, n)
	st.checkStored(t, jobID, m.emails, job)
	st.account(t, invs, &tot)
	var out bytes.Buffer
	fmt.Fprintf(&out, "make cost: %d addresses, %d domains (gmail.com %.0f %%, Google Workspace MX %d addresses, greylisting %d addresses), "+
		"%d worker instances, time compressed ×%.0f; summary %+v\n",
		n, m.domains, 100*float64(m.provider)/float64(n), m.workspace, m.greylist, dep.instances, scale, job.Summary)
	tot.report(&out)
	t.Log("\n" + out.String())
	if p := os.Getenv("MAILPROBE_COST_REPORT"); p != "" {
		if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// stack is the deployed, metered stack.
type stack struct {
	api      *rie.Function
	workers  []*rie.Function
	wires    []*wire
	ledger   *ledger
	store    *dynamo.Store // unmetered: the harness's own reads
	sqs      *sqs.Client   // unmetered
	esmSQS   *sqs.Client   // metered as the event source mapping
	queueURL string
	queueARN string
	dlqURL   string
	apiInvs  []invocation // the API invocations the harness made
}

// deployMetered starts the emulators, a meter pair per function instance,
// a SOCKS5 proxy per worker instance, and the functions.
func deployMetered(t *testing.T, doms []domain, scale float64, dep deployment) *stack {
	t.Helper()
	ctx := context.Background()
	net := startInternet(t, doms, scale)
	ddb := awsemu.DynamoDB(t)
	table := awsemu.Name(t, "mailprobe")
	if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	sq := awsemu.SQS(t)
	st := &stack{ledger: &ledger{}, store: dynamo.New(ddb, table), sqs: sq}
	st.makeQueues(t, scale, dep)
	ddbURL, sqsURL := aws.ToString(ddb.Options().BaseEndpoint), aws.ToString(sq.Options().BaseEndpoint)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	tables := &tableInfos{}
	meters := func(who string) (string, string) {
		return serve(t, &ddbMeter{who: who, rtt: dynamoRTT, target: ddbURL, client: client, ledger: st.ledger, tables: tables}),
			serve(t, &sqsMeter{who: who, rtt: sqsRTT, target: sqsURL, client: client, ledger: st.ledger})
	}
	_, esmSQSURL := meters("esm")
	st.esmSQS = awsemu.SQS(t, func(o *sqs.Options) { o.BaseEndpoint = aws.String(esmSQSURL) })
	common := []string{
		"MAILPROBE_TABLE=" + table, "MAILPROBE_QUEUE_URL=" + st.queueURL,
		"RCH__DNS=" + net.dns.Addr, "RCH__ALLOW_PRIVATE_MX=true", fmt.Sprintf("RCH__SMTP_PORT=%d", net.port),
		"RCH__HELLO_NAME=probe.mailprobe.test", "RCH__FROM_EMAIL=probe@mailprobe.test",
		"MAILPROBE_LOG_LEVEL=info", fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", int(dep.workerTimeout.Seconds())),
	}
	apiDDB, apiSQS := meters("api")
	apiWire := &wire{rtt: smtpRTT}
	apiProxy := sockstest.Start(t, sockstest.Options{User: "lambda", Pass: "proxy-pass", WrapTarget: apiWire.wrap})
	st.api = rie.Start(t, rie.Build(t, "./functions/api"), append(append(dep.apiEnv, common...),
		"MAILPROBE_DYNAMODB_ENDPOINT="+apiDDB, "MAILPROBE_SQS_ENDPOINT="+apiSQS,
		"RCH__HEADER_SECRET="+secret, "MAILPROBE_PROXIES="+apiProxy.URL())...)
	for i := range dep.instances {
		who := "worker-" + strconv.Itoa(i)
		w := &wire{rtt: smtpRTT}
		proxy := sockstest.Start(t, sockstest.Options{User: "lambda", Pass: "proxy-pass", WrapTarget: w.wrap})
		d, q := meters(who)
		st.wires = append(st.wires, w)
		st.workers = append(st.workers, rie.Start(t, rie.Build(t, "./functions/sqsworker"), append(append(dep.workerEnv, common...),
			"MAILPROBE_DYNAMODB_ENDPOINT="+d, "MAILPROBE_SQS_ENDPOINT="+q, "MAILPROBE_PROXIES="+proxy.URL(),
			fmt.Sprintf("MAILPROBE_TIME_SCALE=%g", scale))...))
	}
	return st
}

// makeQueues creates the job queue and its dead-letter queue as the
// template does, the visibility timeout compressed like every wait.
func (s *stack) makeQueues(t *testing.T, scale float64, dep deployment) {
	t.Helper()
	ctx := context.Background()
	dlq, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "dlq"))})
	if err != nil {
		t.Fatal(err)
	}
	s.dlqURL = aws.ToString(dlq.QueueUrl)
	dlqARN := s.arn(t, s.dlqURL)
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": dlqARN, "maxReceiveCount": strconv.Itoa(dep.maxReceiveCount)})
	q, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "jobs")),
		Attributes: map[string]string{
			"VisibilityTimeout": strconv.Itoa(max(1, int(dep.visibility.Seconds()/scale))),
			"RedrivePolicy":     string(redrive),
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.queueURL = aws.ToString(q.QueueUrl)
	s.queueARN = s.arn(t, s.queueURL)
}

func (s *stack) arn(t *testing.T, url string) string {
	t.Helper()
	out, err := s.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)]
}

// apiCall invokes the API function with an HTTP API (payload 2.0) event.
func (s *stack) apiCall(t *testing.T, method, path, query string, body []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, RawQueryString: query,
		Headers: map[string]string{"x-reacher-secret": secret, "content-type": "application/json"},
		Body:    string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "$default", RequestID: "cost",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "203.0.113.7"}},
	}
	raw, _ := json.Marshal(ev)
	start := time.Now()
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(s.api.Invoke(t, raw), &resp); err != nil {
		t.Fatal(err)
	}
	s.apiInvs = append(s.apiInvs, invocation{who: "api", start: start, end: time.Now()})
	return resp
}

func (s *stack) createJob(t *testing.T, emails []string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"input": emails})
	resp := s.apiCall(t, http.MethodPost, "/v1/bulk", "", body)
	var created struct {
		JobID json.Number `json:"job_id"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &created); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("bulk create: %d %s", resp.StatusCode, resp.Body)
	}
	return created.JobID.String()
}

// wait polls the store (unmetered) until the job completes, or fails the
// test when nothing moves for stallLimit.
func (s *stack) wait(t *testing.T, id string, n int) store.Job {
	t.Helper()
	const stallLimit = 3 * time.Minute
	last, since := -1, time.Now()
	for {
		job, err := s.store.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if job.Status() == store.StatusCompleted {
			return job
		}
		if job.Processed != last {
			last, since = job.Processed, time.Now()
			t.Logf("%s: %d of %d processed", time.Now().Format(time.TimeOnly), job.Processed, n)
		}
		if time.Since(since) > stallLimit {
			t.Errorf("job stalled at %d of %d for %v", job.Processed, n, stallLimit)
			return job
		}
		time.Sleep(2 * time.Second)
	}
}

func (s *stack) deadLetters(t *testing.T) int {
	t.Helper()
	out, err := s.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(s.dlqURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	return n
}

// readBack reads the job as its owner would, through the API (metered):
// the status once, then every result as CSV pages of 1 000.
func (s *stack) readBack(t *testing.T, id string, n int) {
	t.Helper()
	resp := s.apiCall(t, http.MethodGet, "/v1/bulk/"+id, "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"job_status":"Completed"`) {
		t.Errorf("status: %d %s", resp.StatusCode, resp.Body)
	}
	rows := 0
	for off := 0; off < n; off += 1000 {
		resp := s.apiCall(t, http.MethodGet, "/v1/bulk/"+id+"/results", fmt.Sprintf("format=csv&limit=1000&offset=%d", off), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("results at %d: %d %s", off, resp.StatusCode, resp.Body)
		}
		rows += strings.Count(resp.Body, "\n") - 1
	}
	if rows != n {
		t.Errorf("CSV pages hold %d rows, want %d", rows, n)
	}
}

// checkStored checks, with unmetered reads, that every address has
// exactly one result, in input order, and that the counters agree.
func (s *stack) checkStored(t *testing.T, id string, emails []string, job store.Job) {
	t.Helper()
	recs, err := s.store.ListResults(context.Background(), id, 0, len(emails)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(emails) {
		t.Errorf("%d results stored, want %d", len(recs), len(emails))
	}
	for i, r := range recs {
		if r.Index != i || r.Input != emails[i] {
			t.Errorf("result %d is index %d %q, want %q", i, r.Index, r.Input, emails[i])
			break
		}
	}
	if job.Processed != len(emails) || job.Summary.Total() != len(emails) {
		t.Errorf("job processed %d, summary %+v; want %d", job.Processed, job.Summary, len(emails))
	}
}

// account turns the ledger, the invocations, the session records and the
// processes' CPU times into totals.
func (s *stack) account(t *testing.T, invs []esm.Invocation, tot *totals) {
	t.Helper()
	calls := s.ledger.all()
	tot.addCalls(calls)
	for _, inv := range s.apiInvs {
		tot.addInvocation(inv)
	}
	waits := make([]map[int]time.Duration, len(s.workers))
	for i, w := range s.workers {
		waits[i] = invocationWaits(w.Logs())
	}
	seq := make([]int, len(s.workers))
	for _, inv := range invs {
		who := "worker-" + strconv.Itoa(inv.Instance)
		seq[inv.Instance]++
		sessions, trips := s.wires[inv.Instance].count(inv.Start, inv.End)
		tot.trips += trips
		tot.sessions += sessions
		tot.addInvocation(invocation{who: who, start: inv.Start, end: inv.End,
			failures: len(inv.Response.BatchItemFailures), waits: waits[inv.Instance][seq[inv.Instance]]})
	}
	for _, f := range append([]*rie.Function{s.api}, s.workers...) {
		cpu, peak, err := procStats(f.PID())
		if err != nil {
			continue // never invoked: the emulator starts the bootstrap on the first call
		}
		tot.addCPU(cpu, f == s.api)
		if f != s.api {
			tot.peakMB = max(tot.peakMB, peak)
		}
	}
}

// invocationWaits reads the "Invocation finished" lines a worker logged:
// invocation number → politeness wait.
func invocationWaits(logs string) map[int]time.Duration {
	out := map[int]time.Duration{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"Invocation finished"`) {
			continue
		}
		var v struct {
			Invocation int   `json:"invocation"`
			WaitMs     int64 `json:"politeness_wait_ms"`
		}
		if json.Unmarshal([]byte(line[strings.IndexByte(line, '{'):]), &v) == nil {
			out[v.Invocation] = time.Duration(v.WaitMs) * time.Millisecond
		}
	}
	return out
}
