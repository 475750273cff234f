package infra

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// checkGenerated checks the CloudFormation the SAM transform made of the
// packaged template d: what CloudFormation would create.
func checkGenerated(t *testing.T, d *samtemplate.Deployment, cfn []byte, keys map[string]string) {
	t.Helper()
	gen, err := samtemplate.Parse(cfn)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Resources map[string]struct {
			Type           string
			DeletionPolicy string
			Properties     map[string]any
		}
		Outputs map[string]any
	}
	if err := json.Unmarshal(cfn, &raw); err != nil {
		t.Fatal(err)
	}
	// Both templates evaluated against the same stack: parameters as
	// sam deploy passes them, resources as placeholders.
	src, r := d.Resolver(placeholderStack(d.Template, d.Params)), gen.Resolver(placeholderStack(gen, d.Params))
	byType := map[string][]string{}
	for id, res := range raw.Resources {
		byType[res.Type] = append(byType[res.Type], id)
	}
	for typ := range byType {
		slices.Sort(byType[typ])
		if strings.HasPrefix(typ, "AWS::Serverless::") {
			t.Errorf("the transform left %s %v", typ, byType[typ])
		}
	}
	t.Run("functions", func(t *testing.T) { checkGeneratedFunctions(t, raw.Resources, keys) })
	t.Run("roles", func(t *testing.T) {
		if !slices.Equal(byType["AWS::IAM::Role"], []string{"ApiFunctionRole", "SqsWorkerFunctionRole"}) ||
			len(byType["AWS::IAM::Policy"])+len(byType["AWS::IAM::ManagedPolicy"]) > 0 {
			t.Errorf("roles %v, policies %v %v: want the functions' own roles alone", byType["AWS::IAM::Role"],
				byType["AWS::IAM::Policy"], byType["AWS::IAM::ManagedPolicy"])
		}
		for _, id := range functionIDs {
			want, err := d.FunctionRole(id, src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gen.FunctionRole(id, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.ManagedPolicies) > 0 || !equal(got.Granted(), want.Granted()) {
				t.Errorf("%s runs with %s granting %v (managed %v), want the template's %v", id, got.ID, got.Granted(),
					got.ManagedPolicies, want.Granted())
			}
			t.Logf("%s: %s", id, grantsText(got))
		}
	})
	t.Run("event source", func(t *testing.T) {
		esm := byType["AWS::Lambda::EventSourceMapping"]
		if len(esm) != 1 {
			t.Fatalf("event source mappings %v, want one", esm)
		}
		res, _ := gen.Resource(esm[0])
		v, err := r.Value(res.Property())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"EventSourceArn": "attr-JobQueue.Arn", "FunctionName": "ref-SqsWorkerFunction", "BatchSize": "10",
			"MaximumBatchingWindowInSeconds": "5", "FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"ScalingConfig": map[string]any{"MaximumConcurrency": d.Params["WorkerMaxConcurrency"]}}
		if !equal(v, want) {
			t.Errorf("event source mapping %v, want %v", v, want)
		}
	})
	t.Run("queues and table", func(t *testing.T) {
		q, err := gen.Queue("JobQueue", r)
		if err != nil {
			t.Fatal(err)
		}
		if q.VisibilityTimeout.Seconds() != 1805 || q.MaxReceiveCount != maxReceiveCount || q.DeadLetterQueue != "DeadLetterQueue" {
			t.Errorf("JobQueue %+v", q)
		}
		tb := raw.Resources["MailprobeTable"]
		if tb.Type != samtemplate.TableType || tb.DeletionPolicy != "Retain" || tb.Properties["BillingMode"] != "PAY_PER_REQUEST" {
			t.Errorf("MailprobeTable %s, DeletionPolicy %q, BillingMode %v", tb.Type, tb.DeletionPolicy, tb.Properties["BillingMode"])
		}
	})
	t.Run("alarms", func(t *testing.T) {
		var got []string
		for _, id := range byType["AWS::CloudWatch::Alarm"] {
			res, _ := gen.Resource(id)
			v, err := r.Value(res.Property())
			if err != nil {
				t.Fatal(err)
			}
			p := v.(map[string]any)
			dim := p["Dimensions"].([]any)[0].(map[string]any)
			got = append(got, str(p["MetricName"])+" "+str(dim["Value"]))
		}
		for _, want := range []string{"Errors ref-ApiFunction", "Throttles ref-ApiFunction", "Errors ref-SqsWorkerFunction",
			"Throttles ref-SqsWorkerFunction", "ApproximateAgeOfOldestMessage attr-JobQueue.QueueName",
			"ApproximateNumberOfMessagesVisible attr-DeadLetterQueue.QueueName"} {
			if !slices.Contains(got, want) {
				t.Errorf("no alarm on %s (alarms: %v)", want, got)
			}
		}
	})
	t.Run("routes", func(t *testing.T) { checkGeneratedRoutes(t, raw.Resources["MailprobeHttpApi"].Properties) })
	t.Run("outputs", func(t *testing.T) {
		values, failed := r.Outputs()
		for _, name := range []string{"ApiUrl", "QueueUrl", "DeadLetterQueueUrl", "TableName"} {
			if values[name] == "" {
				t.Errorf("output %s: %q (%v)", name, values[name], failed[name])
			}
		}
	})
}

// checkGeneratedFunctions: each function is a zip from the packaged S3
// location, started by its bootstrap on provided.al2023 arm64, with its
// own role and log group.
func checkGeneratedFunctions(t *testing.T, res map[string]struct {
	Type           string
	DeletionPolicy string
	Properties     map[string]any
}, keys map[string]string) {
	for _, id := range functionIDs {
		fn, ok := res[id]
		if !ok || fn.Type != "AWS::Lambda::Function" {
			t.Errorf("%s: %q, want an AWS::Lambda::Function", id, fn.Type)
			continue
		}
		p := fn.Properties
		want := map[string]any{
			"Code":          map[string]any{"S3Bucket": "mailprobe-rehearsal", "S3Key": keys[id]},
			"Handler":       "bootstrap",
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Role":          map[string]any{"Fn::GetAtt": []any{id + "Role", "Arn"}},
			"LoggingConfig": map[string]any{"LogGroup": map[string]any{"Ref": id + "LogGroup"}},
		}
		for k, v := range want {
			if !equal(p[k], v) {
				t.Errorf("%s %s = %v, want %v", id, k, p[k], v)
			}
		}
	}
}

// checkGeneratedRoutes compares the paths of the HTTP API's generated
// OpenAPI body with the routes the handler serves.
func checkGeneratedRoutes(t *testing.T, props map[string]any) {
	body, _ := props["Body"].(map[string]any)
	paths, _ := body["paths"].(map[string]any)
	var got, want []string
	for path, ops := range paths {
		for method := range ops.(map[string]any) {
			got = append(got, strings.ToUpper(method)+" "+path)
		}
	}
	for _, rt := range api.Routes() {
		if !rt.LocalOnly {
			want = append(want, rt.Method+" "+rt.Path)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("API Gateway routes %v, want api.Routes %v", got, want)
	}
}

func grantsText(role samtemplate.Role) string {
	var parts []string
	for a, res := range role.Granted() {
		parts = append(parts, a+" on "+strings.Join(res, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}
