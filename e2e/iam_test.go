package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/awscalls"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/store/dynamo"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
	"github.com/mailprobe/mailprobe/internal/testenv/secretsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// The template and the samconfig.toml whose deploy parameters a stack gets.
const (
	templatePath  = "../infra/template.yaml"
	samconfigPath = "../samconfig.toml"
	region        = "us-east-1"
	account       = "000000000000" // the emulators' account
)

// functionPackages are the Go packages the Makefile's build-<LogicalId>
// targets build for each function of the template.
var functionPackages = map[string]string{"ApiFunction": "./functions/api", "SqsWorkerFunction": "./functions/sqsworker"}

// onBehalfGrant is an action AWS performs with a function's role.
type onBehalfGrant struct {
	action string
	sqs    bool // only for a function with an SQS event source
	why    string
}

// onBehalf are the only grants no recorded call has to use: actions AWS
// performs with a function's role rather than the function's code.
var onBehalf = []onBehalfGrant{
	{"logs:CreateLogStream", false, "Lambda creates the log streams of the function's log group"},
	{"logs:PutLogEvents", false, "Lambda writes the function's output to its log group"},
	{"xray:PutTraceSegments", false, "Lambda sends trace segments when the Tracing parameter is Active"},
	{"xray:PutTelemetryRecords", false, "Lambda sends X-Ray telemetry when the Tracing parameter is Active"},
	{"sqs:ReceiveMessage", true, "the SQS event source mapping polls the queue with the function's role"},
	{"sqs:DeleteMessage", true, "the event source mapping deletes the records the function finished"},
	{"sqs:GetQueueAttributes", true, "the event source mapping reads the queue's attributes"},
	{"s3:GetObject", false, "a client fetches a presigned URL the function signed with the role's credentials"},
}

// lpWorld is what every run of TestLeastPrivilege shares: the loopback
// internet, the emulators and the secrets.
type lpWorld struct {
	dns      *dnstest.Server
	proxy    *sockstest.Server
	mail     *smtptest.Server
	secrets  *secretsemu.Server
	sqs      *sqs.Client
	table    string
	bucket   string              // the export bucket
	dir      string              // where the functions record their calls
	used     map[string][]string // function → actions its calls needed, all runs
	reported map[string]bool     // unused grants already reported
}

// TestLeastPrivilege runs both functions under the RIE with the environment
// the template gives them (samconfig.toml's deploy parameters, the secrets
// as references), records every AWS operation their code performs (every
// event file, a bulk job through the queue, a greylisted address handed
// back to the queue, a poison message, the other kinds of secret
// references, a worker whose cold start cannot read its proxies), and holds
// the template's roles to those calls: a call its role does not allow on
// the resource it names fails, and so does a granted action no call needed
// that is not on the onBehalf allowlist.
func TestLeastPrivilege(t *testing.T) {
	w := newLPWorld(t)
	var runs []*lpRun

	// References to SSM by path and to Secrets Manager by name; every
	// event file, a bulk job, a greylisted address, a poison message.
	a := w.run(t, "path-and-name", map[string]string{
		"HeaderSecret": "ssm:/mailprobe-e2e/header-secret", "ProxyUrls": "secretsmanager:mailprobe-e2e/proxies"})
	s := a.stack(t, w, "ApiFunction", "SqsWorkerFunction")
	replayEventFiles(t, s)
	bulkThroughQueue(t, s)
	w.throughQueue(t, s, `{"version":1,"job_id":"job-grey","items":[{"index":0,"email":"grey@example.net"}],"attempt":0}`)
	w.throughQueue(t, s, `not a job message`)
	runs = append(runs, a)

	// The other forms: Secrets Manager by ARN, SSM by a name without "/";
	// with the result cache on, so the second check reads the first's
	// cached result (the API's only single-item read).
	b := w.run(t, "arn-and-plain-name", map[string]string{
		"HeaderSecret": "secretsmanager:" + w.secrets.CreateSecret(t, "mailprobe-e2e/header", "test-secret"),
		"ProxyUrls":    "ssm:mailprobe-e2e-proxies", "CacheTtlSeconds": "600"})
	s = b.stack(t, w, "ApiFunction", "SqsWorkerFunction")
	for range 2 {
		if resp := s.call(t, event(t, "api-check-email.json")); resp.StatusCode != 200 {
			t.Errorf("check with the secrets in the other stores: %d %s", resp.StatusCode, resp.Body)
		}
	}
	s.deliver(t, "sqs-one-address.json")
	runs = append(runs, b)

	// A worker that cannot read its proxies fails its batch and hides the
	// message for 30 s instead of the queue's visibility timeout.
	c := w.run(t, "unreadable-proxies", map[string]string{
		"HeaderSecret": "unused-literal", "ProxyUrls": "ssm:/mailprobe-e2e/missing"})
	s = c.stack(t, w, "SqsWorkerFunction")
	w.coldStartFailure(t, s, c.records["SqsWorkerFunction"])
	runs = append(runs, c)

	for _, r := range runs {
		r.checkCalls(t, w)
	}
	for _, r := range runs {
		r.checkGrants(t, w)
	}
	for _, id := range slices.Sorted(maps.Keys(w.used)) {
		t.Logf("%s called: %s", id, strings.Join(slices.Sorted(slices.Values(w.used[id])), ", "))
	}
}

func newLPWorld(t *testing.T) *lpWorld {
	t.Helper()
	ctx := context.Background()
	w := &lpWorld{dir: t.TempDir(), used: map[string][]string{}, reported: map[string]bool{}}
	w.dns, w.proxy, w.mail = internet(t)
	w.secrets = secretsemu.Start(t)
	w.secrets.PutParameter(t, "/mailprobe-e2e/header-secret", "test-secret")
	w.secrets.PutParameter(t, "mailprobe-e2e-proxies", w.proxy.URL())
	w.secrets.CreateSecret(t, "mailprobe-e2e/proxies", w.proxy.URL())
	ddb := awsemu.DynamoDB(t)
	w.table = awsemu.Name(t, "mailprobe")
	if err := dynamo.CreateTable(ctx, ddb, w.table); err != nil {
		t.Fatal(err)
	}
	w.sqs = awsemu.SQS(t)
	w.bucket = strings.ToLower(awsemu.Name(t, "exports"))
	if _, err := awsemu.S3(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(w.bucket)}); err != nil {
		t.Fatal(err)
	}
	return w
}

// lpRun is one deployment: parameter values, and the stack they give, with
// a queue of its own.
type lpRun struct {
	name     string
	queueURL string
	d        *samtemplate.Deployment
	r        *samtemplate.Resolver
	attrs    map[string]string
	records  map[string]string // function → its record file
}

// run loads the template with samconfig.toml's deploy parameters and
// params, resolving !Ref and !GetAtt to the emulators' table and queue.
func (w *lpWorld) run(t *testing.T, name string, params map[string]string) *lpRun {
	t.Helper()
	d, err := samtemplate.Load(samtemplate.Source{Template: templatePath, Samconfig: samconfigPath, Command: "deploy", Overrides: params})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Missing) > 0 {
		t.Fatalf("parameters without a value: %v", d.Missing)
	}
	st := samtemplate.Stack{Params: d.Params, Refs: map[string]string{}, Attrs: map[string]string{}, Region: region, AccountID: account}
	for _, res := range d.Resources() {
		st.Refs[res.ID] = "mailprobe-" + res.ID + "-e2e"
	}
	for _, at := range d.AttributesUsed() {
		st.Attrs[at] = "arn:aws:placeholder:" + region + ":" + account + ":" + at
	}
	q, err := w.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, name))})
	if err != nil {
		t.Fatal(err)
	}
	queueURL := aws.ToString(q.QueueUrl)
	queueName := queueURL[strings.LastIndexByte(queueURL, '/')+1:]
	st.Refs["MailprobeTable"], st.Refs["JobQueue"], st.Refs["ExportBucket"] = w.table, queueURL, w.bucket
	st.Attrs["ExportBucket.Arn"] = "arn:aws:s3:::" + w.bucket
	st.Attrs["MailprobeTable.Arn"] = "arn:aws:dynamodb:" + region + ":" + account + ":table/" + w.table
	st.Attrs["JobQueue.Arn"] = "arn:aws:sqs:" + region + ":" + account + ":" + queueName
	st.Attrs["JobQueue.QueueName"] = queueName
	return &lpRun{name: name, queueURL: queueURL, d: d, r: d.Resolver(st), attrs: st.Attrs, records: map[string]string{}}
}

// stack starts the functions with the template's environment, pointed at
// the emulators and the loopback internet, recording their AWS calls.
func (r *lpRun) stack(t *testing.T, w *lpWorld, ids ...string) *stack {
	t.Helper()
	envs, err := r.d.Environments(r.r)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{sqs: w.sqs, queueURL: r.queueURL}
	for _, id := range ids {
		pkg, ok := functionPackages[id]
		if !ok {
			t.Fatalf("no Go package for function %s: add it to functionPackages", id)
		}
		file := filepath.Join(w.dir, r.name+"-"+id+".jsonl")
		r.records[id] = file
		env := []string{}
		for k, v := range envs[id] {
			env = append(env, k+"="+v)
		}
		// Test-only additions: the emulators (the template declares these
		// variables empty), the loopback internet, the record file.
		env = append(env,
			"MAILPROBE_DYNAMODB_ENDPOINT="+aws.ToString(awsemu.DynamoDB(t).Options().BaseEndpoint),
			"MAILPROBE_SQS_ENDPOINT="+aws.ToString(w.sqs.Options().BaseEndpoint),
			"MAILPROBE_S3_ENDPOINT="+awsemu.S3Endpoint(t),
			// s3rver checks signatures against its one key pair; the
			// other emulators take any.
			"AWS_ACCESS_KEY_ID="+awsemu.S3AccessKey, "AWS_SECRET_ACCESS_KEY="+awsemu.S3SecretKey,
			"RCH__DNS="+w.dns.Addr, fmt.Sprintf("RCH__SMTP_PORT=%d", w.mail.Port()), "RCH__SMTP_TIMEOUT=5",
			"RCH__ALLOW_PRIVATE_MX=true", awscalls.EnvRecord+"="+file)
		env = append(env, w.secrets.Env()...)
		f := rie.Start(t, rie.Build(t, pkg), env...)
		switch id {
		case "ApiFunction":
			s.api = f
		case "SqsWorkerFunction":
			s.worker = f
		}
	}
	return s
}

// replayEventFiles sends every events/*.json to the function it is for.
func replayEventFiles(t *testing.T, s *stack) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events/*.json (%v)", err)
	}
	for _, f := range files {
		var probe struct {
			RouteKey *string
			Records  []json.RawMessage
		}
		ev := event(t, filepath.Base(f))
		if err := json.Unmarshal(ev, &probe); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch {
		case probe.RouteKey != nil:
			s.call(t, ev)
		case probe.Records != nil:
			s.deliver(t, filepath.Base(f))
		default:
			t.Errorf("%s is neither an HTTP API nor an SQS event", f)
		}
	}
}

// bulkThroughQueue creates a job, hands the messages the API enqueued to
// the worker and reads the job's status and results.
func bulkThroughQueue(t *testing.T, s *stack) {
	t.Helper()
	resp := s.call(t, event(t, "api-bulk-create.json"))
	var created struct {
		JobID json.Number `json:"job_id"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &created); err != nil || resp.StatusCode != 200 {
		t.Fatalf("bulk create: %d %s", resp.StatusCode, resp.Body)
	}
	// The worker may hand addresses back (the per-MX budget the event files
	// spent): deliver until the job is done, as the event source mapping
	// would, so that the results read below are stored ones.
	for deadline := time.Now().Add(90 * time.Second); ; {
		if ev := s.receive(t); len(ev.Records) > 0 {
			b, _ := json.Marshal(ev)
			s.worker.Invoke(t, b)
		}
		status := s.call(t, withPath(t, event(t, "api-bulk-status.json"), "/v1/bulk/"+created.JobID.String()))
		if strings.Contains(status.Body, `"job_status":"Completed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulk job not completed: %s", status.Body)
		}
	}
	s.call(t, withPath(t, event(t, "api-bulk-results-csv.json"), "/v1/bulk/"+created.JobID.String()+"/results"))
	// A full export: written to the bucket once, then handed out again.
	for range 2 {
		resp := s.call(t, withPath(t, event(t, "api-bulk-export.json"), "/v1/bulk/"+created.JobID.String()+"/export"))
		if resp.StatusCode != 200 || !strings.Contains(resp.Body, "X-Amz-Signature") {
			t.Errorf("export: %d %s, want a presigned URL", resp.StatusCode, resp.Body)
		}
	}
}

// throughQueue sends body to the queue and hands what is received to the
// worker, as the event source mapping does.
func (w *lpWorld) throughQueue(t *testing.T, s *stack, body string) []byte {
	t.Helper()
	if _, err := w.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(s.queueURL),
		MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
	ev := s.receive(t)
	// Only the message sent here: others (a bulk job's retries) stay
	// hidden until their visibility ends.
	ev.Records = slices.DeleteFunc(ev.Records, func(m events.SQSMessage) bool { return m.Body != body })
	if len(ev.Records) != 1 {
		t.Fatalf("received %d records with body %q, want 1", len(ev.Records), body)
	}
	queueName := s.queueURL[strings.LastIndexByte(s.queueURL, '/')+1:]
	for i := range ev.Records {
		ev.Records[i].EventSourceARN = "arn:aws:sqs:" + region + ":" + account + ":" + queueName
		ev.Records[i].Attributes = map[string]string{"ApproximateReceiveCount": "1"}
	}
	b, _ := json.Marshal(ev)
	return s.worker.Invoke(t, b)
}

// coldStartFailure: a batch the worker cannot start for ends in a function
// error, and its message is hidden on the redelivery schedule (30 s), not
// for the queue's visibility timeout.
func (w *lpWorld) coldStartFailure(t *testing.T, s *stack, record string) {
	t.Helper()
	out := w.throughQueue(t, s, `{"version":1,"job_id":"job-cold","items":[{"index":0,"email":"someone@example.com"}],"attempt":0}`)
	var fnErr struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(out, &fnErr); err != nil || !strings.Contains(fnErr.ErrorMessage, "could not start") {
		t.Errorf("batch answer %s, want the function error of a failed cold start", out)
	}
	if !strings.Contains(s.worker.Logs(), "cold start failed") || strings.Contains(s.worker.Logs(), "proxy-pass") {
		t.Errorf("worker log lacks the cold start failure or shows the proxy password:\n%s", s.worker.Logs())
	}
	hidden := false
	for _, c := range readCalls(t, record) {
		hidden = hidden || c.Operation == "ChangeMessageVisibility" && c.Resource["QueueUrl"] == s.queueURL
	}
	out2, err := w.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.queueURL)})
	if err != nil {
		t.Fatal(err)
	}
	if !hidden || len(out2.Messages) != 0 {
		t.Errorf("after the failed batch: visibility changed %v, %d messages visible; want it hidden on the redelivery schedule",
			hidden, len(out2.Messages))
	}
}

// checkCalls fails for every recorded call the function's role does not
// allow on the resource it named, saying which statement to add.
func (r *lpRun) checkCalls(t *testing.T, w *lpWorld) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(r.records)) {
		role, err := r.d.FunctionRole(id, r.r)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		calls := readCalls(t, r.records[id])
		if len(calls) == 0 {
			t.Errorf("%s run %s recorded no AWS call: is %s honoured?", id, r.name, awscalls.EnvRecord)
		}
		seen := map[string]bool{}
		for _, c := range calls {
			for _, n := range c.Needs(region, account) {
				a, arn := n.Action, n.Resource
				if !slices.Contains(w.used[id], a) {
					w.used[id] = append(w.used[id], a)
				}
				if seen[a+" "+arn] || role.Allows(a, arn) {
					continue
				}
				seen[a+" "+arn] = true
				t.Errorf("%s calls %s (%s %s) on %s, which its role %s does not allow (run %s). "+
					"Add this statement to %s's policy in infra/template.yaml:\n"+
					"              - Effect: Allow\n                Action: %s\n                Resource: %s",
					id, a, c.Service, c.Operation, arn, role.ID, r.name, role.ID, a, r.templateName(arn))
			}
		}
	}
}

// checkGrants fails for every action the role allows that no call of any
// run needed and that is not on the onBehalf allowlist.
func (r *lpRun) checkGrants(t *testing.T, w *lpWorld) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(r.records)) {
		role, err := r.d.FunctionRole(id, r.r)
		if err != nil {
			continue // reported by checkCalls
		}
		hasSQS := false
		if evs, err := r.d.SQSEvents(r.r); err == nil {
			for _, ev := range evs {
				hasSQS = hasSQS || ev.Function == id
			}
		}
		for _, a := range slices.Sorted(maps.Keys(role.Granted())) {
			if slices.ContainsFunc(w.used[id], func(u string) bool { return strings.EqualFold(u, a) }) {
				continue
			}
			if slices.ContainsFunc(onBehalf, func(o onBehalfGrant) bool {
				return strings.EqualFold(o.action, a) && (!o.sqs || hasSQS)
			}) || w.reported[id+" "+a] {
				continue
			}
			w.reported[id+" "+a] = true
			t.Errorf("%s's role %s grants %s (run %s), which no call of its code needed in this test and which AWS does not "+
				"use on its behalf (e2e onBehalf): remove it from %s's policy in infra/template.yaml, or drive the code "+
				"path that calls it here", id, role.ID, a, r.name, role.ID)
		}
	}
}

// templateName names an ARN as the template writes it, when it is an
// attribute of one of its resources.
func (r *lpRun) templateName(arn string) string {
	for _, k := range slices.Sorted(maps.Keys(r.attrs)) {
		if r.attrs[k] == arn {
			return "!GetAtt " + k
		}
	}
	return arn
}

func readCalls(t *testing.T, path string) []awscalls.Call {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls, err := awscalls.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}
