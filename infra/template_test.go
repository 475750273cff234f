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

	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/worker"
)

var functionIDs = []string{"ApiFunction", "SqsWorkerFunction"}

func TestFunctions(t *testing.T) {
	tpl := openTyped(t)
	root := openNode(t)
	for _, id := range functionIDs {
		t.Run(id, func(t *testing.T) {
			f, err := tpl.GetServerlessFunctionWithName(id)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				name      string
				got, want any
			}{
				{"Runtime", deref(f.Runtime), "provided.al2023"},
				{"Architectures", f.Architectures, []string{"arm64"}},
				{"Handler", deref(f.Handler), "bootstrap"},
				{"BuildMethod", f.AWSCloudFormationMetadata["BuildMethod"], "makefile"},
			}
			for _, c := range checks {
				if !equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if m := deref(f.MemorySize); m < 256 || m > 512 {
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

func TestTimeouts(t *testing.T) {
	tpl := openTyped(t)
	api, err := tpl.GetServerlessFunctionWithName("ApiFunction")
	if err != nil {
		t.Fatal(err)
	}
	if got := deref(api.Timeout); got != 29 {
		t.Errorf("ApiFunction Timeout = %d, want 29 (API Gateway's limit is 30 s)", got)
	}
	worker, err := tpl.GetServerlessFunctionWithName("SqsWorkerFunction")
	if err != nil {
		t.Fatal(err)
	}
	root := openNode(t)
	maxSMTP := atoi(t, must(t, root, "Parameters", "SmtpTimeout", "MaxValue").Value)
	// A bulk message may need several shared sessions in a row, each
	// bounded by smtp_timeout (see the arithmetic in the template).
	const sessionsInARow, margin = 4, 60
	if got, min := deref(worker.Timeout), maxSMTP*sessionsInARow+margin; got < min {
		t.Errorf("worker Timeout = %d, want ≥ %d (smtp_timeout %d × %d sessions in a row + %d s)",
			got, min, maxSMTP, sessionsInARow, margin)
	}
	q, err := tpl.GetSQSQueueWithName("JobQueue")
	if err != nil {
		t.Fatal(err)
	}
	window := atoi(t, must(t, root, "Resources", "SqsWorkerFunction", "Properties", "Events", "Jobs",
		"Properties", "MaximumBatchingWindowInSeconds").Value)
	if got, min := deref(q.VisibilityTimeout), 6*deref(worker.Timeout)+window; got < min {
		t.Errorf("JobQueue VisibilityTimeout = %d, want ≥ 6 × worker timeout + batching window = %d", got, min)
	}
}

func TestHttpApiRoutes(t *testing.T) {
	tpl := openTyped(t)
	if _, err := tpl.GetServerlessHttpApiWithName("MailprobeHttpApi"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, id := range functionIDs {
		f, err := tpl.GetServerlessFunctionWithName(id)
		if err != nil {
			t.Fatal(err)
		}
		for name, ev := range f.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			if id != "ApiFunction" {
				t.Errorf("%s has HttpApi event %s; only ApiFunction serves HTTP", id, name)
			}
			h := ev.Properties.HttpApiEvent
			if h == nil {
				t.Errorf("event %s: goformation did not decode the HttpApi properties", name)
				continue
			}
			if deref(h.ApiId) != "Ref:MailprobeHttpApi" {
				t.Errorf("event %s ApiId = %q, want !Ref MailprobeHttpApi", name, deref(h.ApiId))
			}
			if deref(h.PayloadFormatVersion) != "2.0" {
				t.Errorf("event %s PayloadFormatVersion = %q, want 2.0", name, deref(h.PayloadFormatVersion))
			}
			got = append(got, deref(h.Method)+" "+deref(h.Path))
		}
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
	tpl := openTyped(t)
	q, err := tpl.GetSQSQueueWithName("JobQueue")
	if err != nil {
		t.Fatal(err)
	}
	redrive, ok := q.RedrivePolicy.(map[string]any)
	if !ok {
		t.Fatalf("JobQueue RedrivePolicy = %#v, want a mapping", q.RedrivePolicy)
	}
	if got := redrive["deadLetterTargetArn"]; got != "GetAtt:DeadLetterQueue.Arn" {
		t.Errorf("deadLetterTargetArn = %v, want !GetAtt DeadLetterQueue.Arn", got)
	}
	if n, ok := redrive["maxReceiveCount"].(float64); !ok || n != maxReceiveCount {
		t.Errorf("maxReceiveCount = %v, want %d", redrive["maxReceiveCount"], maxReceiveCount)
	}
	if _, err := tpl.GetSQSQueueWithName("DeadLetterQueue"); err != nil {
		t.Fatal(err)
	}

	root := openNode(t)
	ev := must(t, root, "Resources", "SqsWorkerFunction", "Properties", "Events", "Jobs")
	checks := []struct {
		name string
		ok   bool
	}{
		{"Type SQS", must(t, ev, "Type").Value == "SQS"},
		{"Queue !GetAtt JobQueue.Arn", isGetAtt(must(t, ev, "Properties", "Queue"), "JobQueue.Arn")},
		{"BatchSize 10", must(t, ev, "Properties", "BatchSize").Value == "10"},
		{"MaximumBatchingWindowInSeconds 5", must(t, ev, "Properties", "MaximumBatchingWindowInSeconds").Value == "5"},
		{"FunctionResponseTypes [ReportBatchItemFailures]",
			seqValues(must(t, ev, "Properties", "FunctionResponseTypes")) == "ReportBatchItemFailures"},
		{"ScalingConfig.MaximumConcurrency !Ref WorkerMaxConcurrency",
			isRef(must(t, ev, "Properties", "ScalingConfig", "MaximumConcurrency"), "WorkerMaxConcurrency")},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("worker SQS event: want %s", c.name)
		}
	}
}

func TestDeadLetterAlarm(t *testing.T) {
	tpl := openTyped(t)
	a, err := tpl.GetCloudWatchAlarmWithName("DeadLetterQueueAlarm")
	if err != nil {
		t.Fatal(err)
	}
	if deref(a.MetricName) != "ApproximateNumberOfMessagesVisible" || deref(a.Namespace) != "AWS/SQS" ||
		deref(a.Threshold) != 0 || a.ComparisonOperator != "GreaterThanThreshold" {
		t.Errorf("alarm = %s %s %s %v, want AWS/SQS ApproximateNumberOfMessagesVisible > 0",
			deref(a.Namespace), deref(a.MetricName), a.ComparisonOperator, deref(a.Threshold))
	}
	if len(a.Dimensions) != 1 || a.Dimensions[0].Value != "GetAtt:DeadLetterQueue.QueueName" {
		t.Errorf("alarm dimensions = %+v, want QueueName of DeadLetterQueue", a.Dimensions)
	}
}

func TestTable(t *testing.T) {
	tpl := openTyped(t)
	tables := tpl.GetAllDynamoDBTableResources()
	if len(tables) != 1 {
		t.Fatalf("%d DynamoDB tables, want 1", len(tables))
	}
	tb := tables["MailprobeTable"]
	if tb == nil {
		t.Fatal("no MailprobeTable")
	}
	if deref(tb.BillingMode) != "PAY_PER_REQUEST" {
		t.Errorf("BillingMode = %q", deref(tb.BillingMode))
	}
	if ttl := tb.TimeToLiveSpecification; ttl == nil || !ttl.Enabled || deref(ttl.AttributeName) != "expires_at" {
		t.Errorf("TimeToLiveSpecification = %+v, want expires_at enabled", ttl)
	}
	if p := tb.PointInTimeRecoverySpecification; p == nil || !deref(p.PointInTimeRecoveryEnabled) {
		t.Error("point-in-time recovery is not enabled")
	}
	if s := tb.SSESpecification; s == nil || !s.SSEEnabled {
		t.Error("SSE is not enabled")
	}
	if got := keySchema(tb.KeySchema); got != "pk HASH, sk RANGE" {
		t.Errorf("KeySchema = %s", got)
	}
	want := map[string]string{"gsi1": "gsi1pk HASH, gsi1sk RANGE", "gsi2": "gsi2pk HASH, gsi2sk RANGE"}
	got := map[string]string{}
	for _, g := range tb.GlobalSecondaryIndexes {
		got[g.IndexName] = keySchema(g.KeySchema)
	}
	if !equal(got, want) {
		t.Errorf("GSIs = %v, want %v", got, want)
	}
	types := map[string]string{}
	for _, a := range tb.AttributeDefinitions {
		types[a.AttributeName] = a.AttributeType
	}
	for _, k := range []string{"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"} {
		if types[k] != "S" {
			t.Errorf("attribute %s type = %q, want S", k, types[k])
		}
	}
}

func TestLogGroups(t *testing.T) {
	root := openNode(t)
	byTarget := map[string]bool{}
	for _, id := range resourcesOfType(root, "AWS::Logs::LogGroup") {
		props := must(t, root, "Resources", id, "Properties")
		if get(props, "RetentionInDays") == nil {
			t.Errorf("%s has no RetentionInDays", id)
		}
		if n := get(props, "LogGroupName"); n != nil && n.Tag == "!Sub" {
			byTarget[n.Value] = true
		}
	}
	for _, id := range functionIDs {
		if !byTarget["/aws/lambda/${"+id+"}"] {
			t.Errorf("no log group /aws/lambda/${%s}", id)
		}
	}
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
// worker.RedeliveryDelay computes them, add up to the figure the comment
// gives, and each fits SQS's largest visibility timeout (12 h).
func TestRedeliveryArithmetic(t *testing.T) {
	var waits time.Duration
	for receive := 1; receive < maxReceiveCount; receive++ {
		d := worker.RedeliveryDelay(worker.DefaultRedeliveryBase, receive)
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
