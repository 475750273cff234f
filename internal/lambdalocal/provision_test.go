package lambdalocal

import (
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

// TestProvision creates the project template's resources in the emulators
// and reads them back: each queue and table as the template declares it.
func TestProvision(t *testing.T) {
	d, err := samtemplate.Load(samtemplate.Source{Template: "../../infra/template.yaml", Command: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	c := &created{refs: map[string]string{}, attrs: map[string]string{}, queues: map[string]samtemplate.Queue{}, secrets: map[string]string{}}
	params := map[string]string{}
	for k, v := range d.Params {
		params[k] = v
	}
	for _, m := range d.Missing {
		params[m] = ""
	}
	p := &provisioner{d: d, r: d.Resolver(samtemplate.Stack{Params: params, Refs: c.refs, Attrs: c.attrs, StackName: "st"}),
		sqs: awsemu.SQS(t), ddb: awsemu.DynamoDB(t), s3: awsemu.S3(t), stackName: awsemu.Name(t, "st"),
		visibility: 45 * time.Second, log: slog.New(slog.NewTextHandler(io.Discard, nil)), c: c}
	if err := p.provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := len(c.undo) - 1; i >= 0; i-- {
			c.undo[i](t.Context())
		}
	})
	for _, res := range d.ResourcesOfType(samtemplate.QueueType) {
		checkQueue(t, p, res.ID)
	}
	for _, res := range d.ResourcesOfType(samtemplate.TableType) {
		checkTable(t, p, res.ID)
	}
	for _, id := range c.buckets {
		if _, err := p.s3.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(c.refs[id])}); err != nil {
			t.Errorf("bucket %s: %v", id, err)
		}
	}
	if !strings.Contains(strings.Join(c.notes, "\n"), "UpdateTimeToLive") {
		t.Errorf("no note about dynalite's missing UpdateTimeToLive in %q", c.notes)
	}
}

func checkQueue(t *testing.T, p *provisioner, id string) {
	t.Helper()
	want, err := p.d.Queue(id, p.r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.sqs.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.c.refs[id]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	got := out.Attributes
	for k, v := range want.Attributes {
		if k == "VisibilityTimeout" {
			v = "45" // --visibility-timeout
		}
		if !sameAttribute(v, got[k]) {
			t.Errorf("queue %s: %s = %q, want %q", id, k, got[k], v)
		}
	}
	if want.DeadLetterQueue != "" {
		var rp struct {
			Target string `json:"deadLetterTargetArn"`
			Max    any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(got["RedrivePolicy"]), &rp); err != nil {
			t.Fatalf("queue %s: redrive policy %q: %v", id, got["RedrivePolicy"], err)
		}
		if rp.Target != p.c.attrs[want.DeadLetterQueue+".Arn"] || strings.Trim(toString(rp.Max), `"`) != strconv.Itoa(want.MaxReceiveCount) {
			t.Errorf("queue %s: redrive policy %+v, want %s after %d receives", id, rp, want.DeadLetterQueue, want.MaxReceiveCount)
		}
	}
}

func toString(v any) string { b, _ := json.Marshal(v); return string(b) }

func checkTable(t *testing.T, p *provisioner, id string) {
	t.Helper()
	want, err := p.d.Table(id, p.r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.ddb.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(p.c.refs[id])})
	if err != nil {
		t.Fatal(err)
	}
	got := out.Table
	keys := func(n int, name func(i int) string) string {
		var s []string
		for i := range n {
			s = append(s, name(i))
		}
		return strings.Join(s, ",")
	}
	wantKeys := keys(len(want.KeySchema), func(i int) string { return want.KeySchema[i].AttributeName + " " + want.KeySchema[i].KeyType })
	gotKeys := keys(len(got.KeySchema), func(i int) string {
		return aws.ToString(got.KeySchema[i].AttributeName) + " " + string(got.KeySchema[i].KeyType)
	})
	if gotKeys != wantKeys {
		t.Errorf("table %s: keys %s, want %s", id, gotKeys, wantKeys)
	}
	if len(got.GlobalSecondaryIndexes) != len(want.GlobalSecondaryIndexes) {
		t.Errorf("table %s: %d indexes, want %d", id, len(got.GlobalSecondaryIndexes), len(want.GlobalSecondaryIndexes))
	}
	if want.BillingMode != "" && (got.BillingModeSummary == nil || string(got.BillingModeSummary.BillingMode) != want.BillingMode) {
		t.Errorf("table %s: billing %+v, want %s", id, got.BillingModeSummary, want.BillingMode)
	}
}
