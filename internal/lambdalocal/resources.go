package lambdalocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// queue creates queue id after its dead-letter queue, with the attributes
// the template declares, and notes any the emulator did not keep.
func (p *provisioner) queue(ctx context.Context, id string, visiting map[string]bool) error {
	if _, done := p.c.queues[id]; done {
		return nil
	}
	if visiting[id] {
		return fmt.Errorf("queue %s: its redrive policy refers back to itself", id)
	}
	visiting[id] = true
	if dlq := p.d.QueueDeadLetterTarget(id); dlq != "" {
		if err := p.queue(ctx, dlq, visiting); err != nil {
			return err
		}
	}
	q, err := p.d.Queue(id, p.r)
	if err != nil {
		return err
	}
	if p.visibility > 0 {
		q.Attributes["VisibilityTimeout"] = secs(p.visibility)
		q.VisibilityTimeout = p.visibility
	}
	name := q.Name
	if name == "" {
		name = p.physical(id, 80)
		if q.Attributes["FifoQueue"] == "true" {
			name = p.physical(id, 75) + ".fifo"
		}
	}
	out, err := p.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: q.Attributes})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", id, err)
	}
	url := aws.ToString(out.QueueUrl)
	p.c.undo = append(p.c.undo, func(ctx context.Context) {
		_, _ = p.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}) // best effort at shutdown
	})
	got, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		return fmt.Errorf("queue %s: %w", id, err)
	}
	var lost []string
	for _, k := range slices.Sorted(maps.Keys(q.Attributes)) {
		if !sameAttribute(q.Attributes[k], got.Attributes[k]) {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		p.c.note("%s: the SQS emulator did not keep %s", id, strings.Join(lost, ", "))
	}
	p.c.queues[id] = q
	p.c.refs[id] = url
	p.c.attrs[id+".Arn"] = got.Attributes["QueueArn"]
	p.c.attrs[id+".QueueName"] = name
	p.c.attrs[id+".QueueUrl"] = url
	p.log.Info("queue created", "resource", id, "url", url, "visibility_timeout", q.VisibilityTimeout,
		"dead_letter_queue", q.DeadLetterQueue, "max_receive_count", q.MaxReceiveCount)
	return nil
}

// sameAttribute compares a declared attribute with the emulator's; JSON
// policies compare by content.
func sameAttribute(want, got string) bool {
	if want == got {
		return true
	}
	var a, b any
	if json.Unmarshal([]byte(want), &a) != nil || json.Unmarshal([]byte(got), &b) != nil {
		return false
	}
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// normalize turns the numbers of a decoded JSON value into strings, since
// SQS writes maxReceiveCount either way.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = normalize(x)
		}
		return out
	case float64:
		return fmt.Sprint(v)
	}
	return v
}

// table creates table id with the keys, indexes and billing the template
// declares, then its TTL, and notes what the emulator lacks.
func (p *provisioner) table(ctx context.Context, id string) error {
	tb, err := p.d.Table(id, p.r)
	if err != nil {
		return err
	}
	name := tb.Name
	if name == "" {
		name = p.physical(id, 255)
	}
	in := createTableInput(name, tb)
	_, err = p.ddb.CreateTable(ctx, in)
	var inUse *dtypes.ResourceInUseException
	existed := p.stable && errors.As(err, &inUse)
	if err != nil && !existed {
		return fmt.Errorf("create table %s: %w", id, err)
	}
	if !existed {
		p.c.undo = append(p.c.undo, func(ctx context.Context) {
			_, _ = p.ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}) // best effort at shutdown
		})
	}
	waiter := dynamodb.NewTableExistsWaiter(p.ddb, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	desc, err := waiter.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second)
	if err != nil {
		return fmt.Errorf("table %s: %w", id, err)
	}
	if ttl := tb.TimeToLive; ttl != nil && ttl.Enabled && !existed {
		_, err := p.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(name),
			TimeToLiveSpecification: &dtypes.TimeToLiveSpecification{
				AttributeName: aws.String(ttl.AttributeName), Enabled: aws.Bool(true),
			},
		})
		var apiErr smithy.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException":
			p.c.note("%s: TTL on %s is declared but not applied: the DynamoDB emulator (dynalite) has no UpdateTimeToLive, so expired items are never deleted locally", id, ttl.AttributeName)
		case err != nil:
			return fmt.Errorf("table %s: UpdateTimeToLive: %w", id, err)
		}
	}
	if len(tb.Ignored) > 0 {
		p.c.note("%s: %s have no local equivalent", id, strings.Join(tb.Ignored, ", "))
	}
	p.c.refs[id] = name
	p.c.attrs[id+".Arn"] = aws.ToString(desc.Table.TableArn)
	if s := aws.ToString(desc.Table.LatestStreamArn); s != "" {
		p.c.attrs[id+".StreamArn"] = s
	}
	p.log.Info("table created", "resource", id, "name", name, "indexes", len(tb.GlobalSecondaryIndexes))
	return nil
}

// createTableInput translates the template's table into CreateTable.
func createTableInput(name string, tb samtemplate.Table) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), KeySchema: keySchema(tb.KeySchema),
		BillingMode: dtypes.BillingMode(tb.BillingMode), ProvisionedThroughput: throughput(tb.ProvisionedThroughput)}
	if in.BillingMode == "" {
		in.BillingMode = dtypes.BillingModeProvisioned // CloudFormation's default
	}
	for _, a := range tb.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, dtypes.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: dtypes.ScalarAttributeType(a.AttributeType)})
	}
	for _, ix := range tb.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, dtypes.GlobalSecondaryIndex{
			IndexName: aws.String(ix.IndexName), KeySchema: keySchema(ix.KeySchema),
			Projection: projection(ix.Projection), ProvisionedThroughput: throughput(ix.ProvisionedThroughput)})
	}
	for _, ix := range tb.LocalSecondaryIndexes {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, dtypes.LocalSecondaryIndex{
			IndexName: aws.String(ix.IndexName), KeySchema: keySchema(ix.KeySchema), Projection: projection(ix.Projection)})
	}
	if s := tb.StreamSpecification; s != nil {
		in.StreamSpecification = &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true),
			StreamViewType: dtypes.StreamViewType(s.StreamViewType)}
	}
	return in
}

func keySchema(ks []samtemplate.KeyElement) []dtypes.KeySchemaElement {
	out := make([]dtypes.KeySchemaElement, len(ks))
	for i, k := range ks {
		out[i] = dtypes.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: dtypes.KeyType(k.KeyType)}
	}
	return out
}

func projection(p samtemplate.Projection) *dtypes.Projection {
	return &dtypes.Projection{ProjectionType: dtypes.ProjectionType(p.ProjectionType), NonKeyAttributes: p.NonKeyAttributes}
}

func throughput(t *samtemplate.Throughput) *dtypes.ProvisionedThroughput {
	if t == nil {
		return nil
	}
	return &dtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(t.ReadCapacityUnits), WriteCapacityUnits: aws.Int64(t.WriteCapacityUnits)}
}
