package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	cfg := filepath.Join(dir, "samconfig.toml")
	write(t, tpl, `
Parameters:
  Secret: {Type: String, NoEcho: true}
  Level: {Type: String, Default: info}
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Queue: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          SECRET: !Ref Secret
          LEVEL: !Ref Level
          TABLE: !Ref Table
          QUEUE: !GetAtt Queue.Arn
`)
	write(t, cfg, "version = 0.1\n[default.local_invoke.parameters]\nparameter_overrides = [\"Level=debug\"]\n")
	tests := []struct {
		name  string
		args  []string
		want  map[string]string
		notes []string
	}{
		{"samconfig and placeholders", nil,
			map[string]string{"SECRET": "", "LEVEL": "debug", "TABLE": "Table", "QUEUE": "Queue.Arn"},
			[]string{"parameter Secret has no value"}},
		{"flags", []string{"-parameter-overrides", "Secret=s3cret Level=warn", "-ref", "Table=t1", "-attr", "Queue.Arn=arn:q"},
			map[string]string{"SECRET": "s3cret", "LEVEL": "warn", "TABLE": "t1", "QUEUE": "arn:q"}, nil},
		{"deploy command", []string{"-command", "deploy"},
			map[string]string{"SECRET": "", "LEVEL": "info", "TABLE": "Table", "QUEUE": "Queue.Arn"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "sub", "env.json")
			var stdout, stderr bytes.Buffer
			args := append([]string{"-template", tpl, "-config-file", cfg, "-o", out}, tt.args...)
			if code := run(args, noEnv, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			var got map[string]map[string]string
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got["Fn"][k] != v {
					t.Errorf("%s = %q, want %q", k, got["Fn"][k], v)
				}
			}
			for _, n := range tt.notes {
				if !strings.Contains(stderr.String(), n) {
					t.Errorf("stderr %q lacks %q", stderr.String(), n)
				}
			}
			if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode())
			}
		})
	}
	var stderr bytes.Buffer
	if code := run([]string{"-template", tpl, "-config-file", cfg, "-parameter-overrides", "Nope=1"}, noEnv, &bytes.Buffer{}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "Nope is not a parameter") {
		t.Errorf("unknown parameter: exit %d, %s", code, stderr.String())
	}
}

// TestRepoTemplate writes the file for the project's own template.
func TestRepoTemplate(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-template", "../../infra/template.yaml", "-config-file", "../../samconfig.toml"}, noEnv, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got map[string]map[string]string
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || len(got) == 0 {
		t.Fatalf("output %s: %v", stdout.String(), err)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func noEnv(string) string { return "" }

// TestEmulators creates the repository template's table and queues in the
// emulators and points both functions at them: the queue dead-letters to
// the created dead-letter queue, and the table exists with its key schema.
func TestEmulators(t *testing.T) {
	sq, ddb := awsemu.SQS(t), awsemu.DynamoDB(t)
	env := map[string]string{
		"MAILPROBE_SQS_ENDPOINT":      aws.ToString(sq.Options().BaseEndpoint),
		"MAILPROBE_DYNAMODB_ENDPOINT": aws.ToString(ddb.Options().BaseEndpoint),
		"MAILPROBE_S3_ENDPOINT":       awsemu.S3Endpoint(t),
	}
	stackName := awsemu.Name(t, "s")
	args := []string{"-template", "../../infra/template.yaml", "-config-file", "../../samconfig.toml", "-emulators", "-stack-name", stackName,
		"-parameter-overrides", "HeaderSecret=test-secret ProxyUrls=socks5://u:p@127.0.0.1:1080"}
	for range 2 { // a second run finds everything in place
		var stdout, stderr bytes.Buffer
		if code := run(args, func(k string) string { return env[k] }, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		var got map[string]map[string]string
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"ApiFunction", "SqsWorkerFunction"} {
			fn := got[id]
			if fn["MAILPROBE_TABLE"] != stackName+"-MailprobeTable" || fn["MAILPROBE_SQS_ENDPOINT"] != env["MAILPROBE_SQS_ENDPOINT"] ||
				fn["MAILPROBE_DYNAMODB_ENDPOINT"] != env["MAILPROBE_DYNAMODB_ENDPOINT"] || !strings.HasSuffix(fn["MAILPROBE_QUEUE_URL"], "/"+stackName+"-JobQueue") {
				t.Errorf("%s environment %v", id, fn)
			}
		}
		if api := got["ApiFunction"]; api["MAILPROBE_EXPORT_BUCKET"] != strings.ToLower(stackName+"-ExportBucket") ||
			api["MAILPROBE_S3_ENDPOINT"] != env["MAILPROBE_S3_ENDPOINT"] {
			t.Errorf("ApiFunction export bucket %q at %q", api["MAILPROBE_EXPORT_BUCKET"], api["MAILPROBE_S3_ENDPOINT"])
		}
		q := got["SqsWorkerFunction"]["MAILPROBE_QUEUE_URL"]
		attrs, err := sq.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if rp := attrs.Attributes["RedrivePolicy"]; !strings.Contains(rp, stackName+"-DeadLetterQueue") || attrs.Attributes["VisibilityTimeout"] != "1805" {
			t.Errorf("queue attributes %v", attrs.Attributes)
		}
		if _, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(stackName + "-MailprobeTable")}); err != nil {
			t.Error(err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}
