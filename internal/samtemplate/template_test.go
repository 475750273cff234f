package samtemplate

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T) *Template {
	t.Helper()
	tpl, err := Open("testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// stack gives the test template's parameters and resources values.
func stack(t *testing.T, tpl *Template, overrides map[string]string) *Resolver {
	t.Helper()
	params, missing, err := tpl.ParameterValues(overrides)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 0 {
		t.Fatalf("missing parameters %v", missing)
	}
	return tpl.Resolver(Stack{
		Params:    params,
		Refs:      map[string]string{"Table": "tbl", "Queue": "http://q/queue", "Dlq": "http://q/dlq", "Api": "api1"},
		Attrs:     map[string]string{"Queue.Arn": "arn:q", "Queue.QueueName": "queue", "Dlq.Arn": "arn:dlq"},
		StackName: "st",
	})
}

func TestEnvironment(t *testing.T) {
	tpl := open(t)
	tests := []struct {
		name      string
		overrides map[string]string
		want      map[string]string
	}{
		{"defaults", map[string]string{"Secret": "s3cret-value"}, map[string]string{
			"STAGE": "dev", "SHARED": "mine", "SECRET": "s3cret-value", "TABLE": "tbl",
			"QUEUE_ARN": "arn:q", "QUEUE_NAME": "queue", "SUB": "us-east-1/tbl/arn:q/${Literal}",
			"SUB_LIST": "a@b.c-dev", "JOINED": "a,dev,y", "IF2": "no", "B64": "aGk=", "NUMBER": "42",
		}},
		{"prod", map[string]string{"Secret": "s3cret-value", "Stage": "prod"}, map[string]string{
			"STAGE": "prod", "SHARED": "mine", "SECRET": "s3cret-value", "TABLE": "tbl",
			"QUEUE_ARN": "arn:q", "QUEUE_NAME": "queue", "SUB": "us-east-1/tbl/arn:q/${Literal}",
			"SUB_LIST": "a@b.c-prod", "JOINED": "a,prod,y", "IF": "prod-value", "IF2": "yes", "B64": "aGk=",
			"NUMBER": "42",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := stack(t, tpl, tt.overrides)
			fn, ok := tpl.Function("Fn")
			if !ok {
				t.Fatal("no function Fn")
			}
			got, err := fn.Environment(r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("environment\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestEnvironmentUnresolved(t *testing.T) {
	tpl := open(t)
	r := stack(t, tpl, map[string]string{"Secret": "s3cret-value"})
	delete(r.s.Refs, "Table")
	fn, _ := tpl.Function("Fn")
	_, err := fn.Environment(r)
	if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "TABLE") {
		t.Errorf("err = %v, want ErrUnresolved naming TABLE", err)
	}
	params, missing, err := tpl.ParameterValues(nil)
	if err != nil || !reflect.DeepEqual(missing, []string{"Secret"}) {
		t.Fatalf("missing = %v, %v; want [Secret]", missing, err)
	}
	_, err = fn.Environment(tpl.Resolver(Stack{Params: params}))
	if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "Secret") {
		t.Errorf("err = %v, want ErrUnresolved naming Secret", err)
	}
}

func TestSettingsAndGlobals(t *testing.T) {
	tpl := open(t)
	r := stack(t, tpl, map[string]string{"Secret": "s3cret-value", "Stage": "prod", "Timeout": "33"})
	tests := []struct {
		fn   string
		want Settings
		env  []string
	}{
		{"Fn", Settings{Timeout: 33 * time.Second, MemorySize: 1024, Runtime: "provided.al2023", Handler: "bootstrap",
			Architectures: []string{"arm64"}, CodeURI: "../", BuildMethod: "makefile"},
			[]string{"STAGE", "SHARED", "SECRET", "TABLE", "QUEUE_ARN", "QUEUE_NAME", "SUB", "SUB_LIST", "JOINED", "IF", "IF2", "B64", "NUMBER"}},
		// Lists are concatenated with the Globals' (SAM's rule).
		{"Other", Settings{Timeout: 7 * time.Second, MemorySize: DefaultMemorySize, Architectures: []string{"arm64", "x86_64"}, CodeURI: "./other"},
			[]string{"STAGE", "SHARED", "ONLY"}},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			fn, _ := tpl.Function(tt.fn)
			got, err := fn.Settings(r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("settings\n got %+v\nwant %+v", got, tt.want)
			}
			if names := fn.EnvNames(); !reflect.DeepEqual(names, tt.env) {
				t.Errorf("env names %v, want %v", names, tt.env)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	tpl := open(t)
	routes, err := tpl.Routes(stack(t, tpl, map[string]string{"Secret": "s3cret-value"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{Function: "Fn", Event: "Get", API: "Api", Method: "GET", Path: "/items/{id}", PayloadFormatVersion: "2.0"},
		{Function: "Fn", Event: "Any", Method: "ANY", Path: "/any", PayloadFormatVersion: "1.0", Timeout: 5 * time.Second},
		{Function: "Fn", Event: "Default", Method: "ANY", PayloadFormatVersion: "2.0"},
	}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("routes\n got %+v\nwant %+v", routes, want)
	}
	if k := want[2].Key(); k != "$default" {
		t.Errorf("key %q, want $default", k)
	}
	if k := want[0].Key(); k != "GET /items/{id}" {
		t.Errorf("key %q", k)
	}
}

func TestSQSEvents(t *testing.T) {
	tpl := open(t)
	evs, err := tpl.SQSEvents(stack(t, tpl, map[string]string{"Secret": "s3cret-value", "Concurrency": "7"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []SQSEvent{{Function: "Fn", Event: "Jobs", Queue: "Queue", BatchSize: 5, BatchingWindow: 2 * time.Second,
		ReportBatchItemFailures: true, MaximumConcurrency: 7, Enabled: true, Ignored: []string{"FilterCriteria"}}}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("events\n got %+v\nwant %+v", evs, want)
	}
}

func TestQueue(t *testing.T) {
	tpl := open(t)
	r := stack(t, tpl, map[string]string{"Secret": "s3cret-value"})
	if dlq := tpl.QueueDeadLetterTarget("Queue"); dlq != "Dlq" {
		t.Errorf("dead-letter target %q, want Dlq", dlq)
	}
	q, err := tpl.Queue("Queue", r)
	if err != nil {
		t.Fatal(err)
	}
	want := Queue{ID: "Queue", DeadLetterQueue: "Dlq", MaxReceiveCount: 4, VisibilityTimeout: 120 * time.Second,
		Attributes: map[string]string{"VisibilityTimeout": "120", "SqsManagedSseEnabled": "true",
			"RedrivePolicy": `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":4}`}}
	if !reflect.DeepEqual(q, want) {
		t.Errorf("queue\n got %+v\nwant %+v", q, want)
	}
	dlq, err := tpl.Queue("Dlq", r)
	if err != nil || dlq.Name != "st-dlq" || dlq.VisibilityTimeout != DefaultVisibilityTimeout || len(dlq.Attributes) != 0 {
		t.Errorf("dlq %+v, %v", dlq, err)
	}
	// The redrive policy needs the dead-letter queue's ARN.
	r.s.Attrs = nil
	if _, err := tpl.Queue("Queue", r); !errors.Is(err, ErrUnresolved) {
		t.Errorf("without the DLQ's Arn: %v, want ErrUnresolved", err)
	}
	if refs := tpl.References("Queue"); !reflect.DeepEqual(refs, []string{"Dlq"}) {
		t.Errorf("references %v", refs)
	}
}

func TestTable(t *testing.T) {
	tpl := open(t)
	tb, err := tpl.Table("Table", stack(t, tpl, map[string]string{"Secret": "s3cret-value"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Table{ID: "Table", BillingMode: "PAY_PER_REQUEST",
		AttributeDefinitions: []AttributeDefinition{{"pk", "S"}, {"g", "N"}},
		KeySchema:            []KeyElement{{"pk", "HASH"}},
		GlobalSecondaryIndexes: []Index{{IndexName: "byG", KeySchema: []KeyElement{{"g", "HASH"}},
			Projection: Projection{ProjectionType: "INCLUDE", NonKeyAttributes: []string{"x"}}}},
		TimeToLive: &TimeToLive{AttributeName: "ttl", Enabled: true},
		Ignored:    []string{"PointInTimeRecoverySpecification"},
	}
	if !reflect.DeepEqual(tb, want) {
		t.Errorf("table\n got %+v\nwant %+v", tb, want)
	}
}

func TestConditionsAndOutputs(t *testing.T) {
	tpl := open(t)
	for _, stage := range []string{"dev", "prod"} {
		r := stack(t, tpl, map[string]string{"Secret": "s3cret-value", "Stage": stage})
		res, _ := tpl.Resource("ProdOnly")
		exists, err := r.Exists(res)
		if err != nil || exists != (stage == "prod") {
			t.Errorf("%s: ProdOnly exists = %v, %v", stage, exists, err)
		}
		r.s.Refs["ProdOnly"] = "http://q/prod"
		vals, failed := r.Outputs()
		want := map[string]string{"TableName": "tbl", "QueueUrl": "http://q/queue"}
		if stage == "prod" {
			want["ProdQueue"] = "http://q/prod"
		}
		if !reflect.DeepEqual(vals, want) {
			t.Errorf("%s: outputs %v, want %v", stage, vals, want)
		}
		if err := failed["Missing"]; !errors.Is(err, ErrUnresolved) || len(failed) != 1 {
			t.Errorf("%s: failed outputs %v", stage, failed)
		}
	}
}

func TestIntrinsicErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       error
		text       string
	}{
		{"unsupported", "V: !ImportValue other-stack-export", ErrUnsupported, "Fn::ImportValue"},
		{"cycle", "V: !If [A, x, y]", nil, "refers to itself"},
		{"select out of range", "V: !Select [3, [a, b]]", nil, "out of range"},
		{"bad getatt", "V: !GetAtt NoDot", nil, "Resource.Attribute"},
		{"unknown name", "V: !Ref Nothing", ErrUnresolved, "Nothing"},
		{"unclosed sub", "V: !Sub 'a ${b'", nil, "unclosed"},
		{"missing mapping", "V: !FindInMap [M, a, b]", ErrUnresolved, "Mappings.M.a.b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "Conditions:\n  A: !Condition B\n  B: !Condition A\nResources:\n  R:\n    Type: X\n    Properties:\n      " + tt.yaml + "\n"
			tpl, err := Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			res, _ := tpl.Resource("R")
			_, err = tpl.Resolver(Stack{}).Value(res.Property("V"))
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("err = %v, want %v containing %q", err, tt.want, tt.text)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, doc := range []string{"", "- a list", "Parameters: {}", "Resources: [\n"} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("Parse(%q) accepted", doc)
		}
	}
}
