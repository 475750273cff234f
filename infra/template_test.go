package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

var functionIDs = []string{"ApiFunction", "SqsWorkerFunction"}

func TestFunctions(t *testing.T) {
	d, r := deployment(t, nil)
	root := openNode(t)
	for _, id := range functionIDs {
		t.Run(id, func(t *testing.T) {
			f, ok := d.Function(id)
			if !ok {
				t.Fatal("no such function")
			}
			st, err := f.Settings(r)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				name      string
				got, want any
			}{
				{"Runtime", st.Runtime, "provided.al2023"},
				{"Architectures", st.Architectures, []string{"arm64"}},
				{"Handler", st.Handler, "bootstrap"},
				{"BuildMethod", st.BuildMethod, "makefile"},
			}
			for _, c := range checks {
				if !equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if m := st.MemorySize; m < 256 || m > 512 {
				t.Errorf("MemorySize = %d, want 256-512", m)
			}
			// SAM resolves CodeUri from the template's folder and runs
			// `make build-<id>` there: it must be the module root,
			// where the Makefile lives.
			code := must(t, root, "Resources", id, "Properties", "CodeUri").Value
			if _, err := os.Stat(filepath.Join(code, "go.mod")); err != nil {
				t.Errorf("CodeUri %q is not the module root: %v", code, err)
			}
		})
	}
}

// settings evaluates a function's runtime settings.
func settings(t *testing.T, d *samtemplate.Deployment, r *samtemplate.Resolver, id string) samtemplate.Settings {
	t.Helper()
	f, ok := d.Function(id)
	if !ok {
		t.Fatalf("no function %s", id)
	}
	st, err := f.Settings(r)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestTimeouts(t *testing.T) {
	d, r := deployment(t, nil)
	if got := settings(t, d, r, "ApiFunction").Timeout; got != 29*time.Second {
		t.Errorf("ApiFunction Timeout = %v, want 29s (API Gateway's limit is 30 s)", got)
	}
	worker := settings(t, d, r, "SqsWorkerFunction").Timeout
	root := openNode(t)
	maxSMTP := time.Duration(atoi(t, must(t, root, "Parameters", "SmtpTimeout", "MaxValue").Value)) * time.Second
	// A bulk message may need several shared sessions in a row, each
	// bounded by smtp_timeout (see the arithmetic in the template).
	const sessionsInARow, margin = 4, 60 * time.Second
	if min := maxSMTP*sessionsInARow + margin; worker < min {
		t.Errorf("worker Timeout = %v, want ≥ %v (smtp_timeout %v × %d sessions in a row + %v)",
			worker, min, maxSMTP, sessionsInARow, margin)
	}
	q, err := d.Queue("JobQueue", r)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := d.SQSEvents(r)
	if err != nil || len(evs) != 1 {
		t.Fatalf("SQS events %+v, %v; want one", evs, err)
	}
	if min := 6*worker + evs[0].BatchingWindow; q.VisibilityTimeout < min {
		t.Errorf("JobQueue VisibilityTimeout = %v, want ≥ 6 × worker timeout + batching window = %v", q.VisibilityTimeout, min)
	}
}

func TestHttpApiRoutes(t *testing.T) {
	d, r := deployment(t, nil)
	if len(d.ResourcesOfType("AWS::Serverless::HttpApi")) != 1 {
		t.Fatal("want one AWS::Serverless::HttpApi")
	}
	routes, err := d.Routes(r)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rt := range routes {
		if rt.Function != "ApiFunction" {
			t.Errorf("%s has HttpApi event %s; only ApiFunction serves HTTP", rt.Function, rt.Event)
		}
		if rt.API != "MailprobeHttpApi" {
			t.Errorf("event %s ApiId = %q, want !Ref MailprobeHttpApi", rt.Event, rt.API)
		}
		if rt.PayloadFormatVersion != "2.0" {
			t.Errorf("event %s PayloadFormatVersion = %q, want 2.0", rt.Event, rt.PayloadFormatVersion)
		}
		got = append(got, rt.Key())
	}
	// The HttpApi declares exactly the routes the handler serves, except
	// the local-only ones (/metrics).
	var want []string
	for _, r := range api.Routes() {
		if !r.LocalOnly {
			want = append(want, r.Method+" "+r.Path)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("HttpApi routes:\n got %q\nwant %q (api.Routes)", got, want)
	}
	if len(slices.Compact(slices.Clone(want))) != len(want) {
		t.Errorf("api.Routes has duplicates: %q", want)
	}
}

func TestQueues(t *testing.T) {
	d, r := deployment(t, map[string]string{"WorkerMaxConcurrency": "7"})
	q, err := d.Queue("JobQueue", r)
	if err != nil {
		t.Fatal(err)
	}
	if q.DeadLetterQueue != "DeadLetterQueue" || q.MaxReceiveCount != maxReceiveCount {
		t.Errorf("JobQueue dead-letters to %q after %d receives, want DeadLetterQueue after %d",
			q.DeadLetterQueue, q.MaxReceiveCount, maxReceiveCount)
	}
	if _, err := d.Queue("DeadLetterQueue", r); err != nil {
		t.Fatal(err)
	}
	evs, err := d.SQSEvents(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []samtemplate.SQSEvent{{Function: "SqsWorkerFunction", Event: "Jobs", Queue: "JobQueue", BatchSize: 10,
		BatchingWindow: 5 * time.Second, ReportBatchItemFailures: true, MaximumConcurrency: 7, Enabled: true}}
	if !equal(evs, want) {
		t.Errorf("SQS events\n got %+v\nwant %+v", evs, want)
	}
}

func TestTable(t *testing.T) {
	d, r := deployment(t, nil)
	tables := d.ResourcesOfType(samtemplate.TableType)
	if len(tables) != 1 || tables[0].ID != "MailprobeTable" {
		t.Fatalf("tables %+v, want MailprobeTable alone", tables)
	}
	tb, err := d.Table("MailprobeTable", r)
	if err != nil {
		t.Fatal(err)
	}
	if tb.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("BillingMode = %q", tb.BillingMode)
	}
	if ttl := tb.TimeToLive; ttl == nil || !ttl.Enabled || ttl.AttributeName != "expires_at" {
		t.Errorf("TimeToLiveSpecification = %+v, want expires_at enabled", ttl)
	}
	root := openNode(t)
	props := must(t, root, "Resources", "MailprobeTable", "Properties")
	if v := get(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"); v == nil || v.Value != "true" {
		t.Error("point-in-time recovery is not enabled")
	}
	if v := get(props, "SSESpecification", "SSEEnabled"); v == nil || v.Value != "true" {
		t.Error("SSE is not enabled")
	}
	if got := keySchema(tb.KeySchema); got != "pk HASH, sk RANGE" {
		t.Errorf("KeySchema = %s", got)
	}
	// No secondary index: every read the store makes is by key, and an
	// index would bill each write again (internal/store/dynamo/doc.go).
	if len(tb.GlobalSecondaryIndexes) != 0 || len(tb.LocalSecondaryIndexes) != 0 {
		t.Errorf("indexes %+v %+v, want none", tb.GlobalSecondaryIndexes, tb.LocalSecondaryIndexes)
	}
	types := map[string]string{}
	for _, a := range tb.AttributeDefinitions {
		types[a.AttributeName] = a.AttributeType
	}
	if !equal(types, map[string]string{"pk": "S", "sk": "S"}) {
		t.Errorf("attribute definitions %v, want pk and sk, strings", types)
	}
}

func keySchema(ks []samtemplate.KeyElement) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.AttributeName + " " + k.KeyType
	}
	return strings.Join(parts, ", ")
}

// TestLogGroups: each function logs to a log group of the stack
// (LoggingConfig) that keeps its logs 30 days, the one its role may write.
func TestLogGroups(t *testing.T) {
	d, r := deployment(t, nil)
	for _, id := range functionIDs {
		f, _ := d.Function(id)
		group := refTarget(t, f.Prop("LoggingConfig", "LogGroup"))
		res, ok := d.Resource(group)
		if !ok || res.Type != "AWS::Logs::LogGroup" {
			t.Errorf("%s: LoggingConfig.LogGroup = %q, want !Ref of an AWS::Logs::LogGroup", id, group)
			continue
		}
		if v := res.Property("RetentionInDays"); v == nil || v.Value != "30" {
			t.Errorf("%s: RetentionInDays = %v, want 30", group, v)
		}
		name, err := r.String(res.Property("LogGroupName"))
		if err != nil || !strings.HasPrefix(name, "/aws/lambda/") {
			t.Errorf("%s: LogGroupName %q (%v), want one under /aws/lambda/", group, name, err)
		}
	}
}

// refTarget returns X of !Ref X.
func refTarget(t *testing.T, n *yaml.Node) string {
	t.Helper()
	if n == nil || n.Tag != "!Ref" {
		return ""
	}
	return n.Value
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// maxReceiveCount is the JobQueue's: enough receives that waiting for
// politeness does not dead-letter healthy messages.
const maxReceiveCount = 10

// TestRedeliveryArithmetic keeps the template's comment true to the
// worker: the waits between the receives of an unfinished message, as
// sqslambda.RedeliveryDelay computes them, add up to the figure the comment
// gives, and each fits SQS's largest visibility timeout (12 h).
func TestRedeliveryArithmetic(t *testing.T) {
	var waits time.Duration
	for receive := 1; receive < maxReceiveCount; receive++ {
		d := sqslambda.RedeliveryDelay(sqslambda.DefaultRedeliveryBase, receive)
		if d > 12*time.Hour {
			t.Errorf("wait after receive %d = %v, over SQS's 12 h", receive, d)
		}
		waits += d
	}
	b, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	want := fmt.Sprintf("= %d s.", int(waits.Seconds()))
	if !strings.Contains(text, "Redelivery arithmetic (JobQueue maxReceiveCount = "+strconv.Itoa(maxReceiveCount)+")") ||
		!strings.Contains(text, "Waits after receives 1-"+strconv.Itoa(maxReceiveCount-1)) || !strings.Contains(text, want) {
		t.Errorf("template comment does not give the waits after receives 1-%d as %q", maxReceiveCount-1, want)
	}
}
