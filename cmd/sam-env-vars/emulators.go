package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// emulators are the local SQS and DynamoDB that `sam local invoke` points
// the functions at: their endpoints, as scripts/emulators.sh start exports
// them.
type emulators struct {
	sqsURL, dynamoURL, s3URL string
	stack                    string // prefix of the names of what is created
}

// endpointsFrom reads the emulators' endpoints from the environment.
func endpointsFrom(getenv func(string) string, stack string) (emulators, error) {
	e := emulators{sqsURL: getenv(app.EnvSQSEndpoint), dynamoURL: getenv(app.EnvDynamoDBEndpoint),
		s3URL: getenv(app.EnvS3Endpoint), stack: stack}
	if e.sqsURL == "" || e.dynamoURL == "" {
		return e, fmt.Errorf("-emulators needs %s and %s (./scripts/emulators.sh start && . .emulators/env)",
			app.EnvSQSEndpoint, app.EnvDynamoDBEndpoint)
	}
	return e, nil
}

// provision creates the template's tables and queues in the emulators, as
// the template declares them (dead-letter queues first), named
// <stack>-<LogicalId>; creating what exists already is a no-op. It fills
// refs and attrs with what !Ref and !GetAtt give for them, and returns
// notes on what the emulators do not do.
func (e emulators) provision(ctx context.Context, d *samtemplate.Deployment, st samtemplate.Stack) (notes []string, err error) {
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	sq := sqs.New(sqs.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(e.sqsURL)})
	ddb := dynamodb.New(dynamodb.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(e.dynamoURL)})
	r := d.Resolver(st) // reads st's maps as they fill
	var queue func(id string) error
	queue = func(id string) error {
		if _, done := st.Refs[id]; done && st.Refs[id] != id {
			return nil
		}
		if dlq := d.QueueDeadLetterTarget(id); dlq != "" {
			if err := queue(dlq); err != nil {
				return err
			}
		}
		q, err := d.Queue(id, r)
		if err != nil {
			return err
		}
		name := q.Name
		if name == "" {
			name = e.stack + "-" + id
		}
		out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: q.Attributes})
		if err != nil {
			return fmt.Errorf("queue %s: %w", id, err)
		}
		arn, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return fmt.Errorf("queue %s: %w", id, err)
		}
		st.Refs[id] = aws.ToString(out.QueueUrl)
		st.Attrs[id+".Arn"] = arn.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
		st.Attrs[id+".QueueName"] = name
		st.Attrs[id+".QueueUrl"] = aws.ToString(out.QueueUrl)
		return nil
	}
	for _, res := range d.ResourcesOfType(samtemplate.QueueType) {
		if err := queue(res.ID); err != nil {
			return nil, err
		}
	}
	for _, res := range d.ResourcesOfType(samtemplate.TableType) {
		tb, err := d.Table(res.ID, r)
		if err != nil {
			return nil, err
		}
		name := tb.Name
		if name == "" {
			name = e.stack + "-" + res.ID
		}
		if err := createTable(ctx, ddb, name, tb); err != nil {
			return nil, err
		}
		st.Refs[res.ID] = name
		st.Attrs[res.ID+".Arn"] = "arn:aws:dynamodb:us-east-1:000000000000:table/" + name
		if tb.TimeToLive != nil && tb.TimeToLive.Enabled {
			notes = append(notes, "table "+name+": the emulator does not expire items by "+tb.TimeToLive.AttributeName)
		}
	}
	for _, res := range d.ResourcesOfType(bucketType) {
		name, err := e.bucket(ctx, res, r)
		if err != nil {
			return nil, err
		}
		if name == "" {
			notes = append(notes, "bucket "+res.ID+": no S3 emulator ("+app.EnvS3Endpoint+" is unset); it stays a placeholder")
			continue
		}
		st.Refs[res.ID] = name
		st.Attrs[res.ID+".Arn"] = "arn:aws:s3:::" + name
	}
	return notes, nil
}

// bucketType is the resource type of an S3 bucket.
const bucketType = "AWS::S3::Bucket"

// bucket creates a bucket of the template in the S3 emulator (s3rver,
// which takes only its own key pair) and returns its name, or "" without
// an S3 emulator. Lifecycle rules are not emulated.
func (e emulators) bucket(ctx context.Context, res samtemplate.Resource, r *samtemplate.Resolver) (string, error) {
	id := res.ID
	if e.s3URL == "" {
		return "", nil
	}
	name := strings.ToLower(e.stack + "-" + id)
	if n := res.Property("BucketName"); n != nil {
		v, err := r.String(n)
		if err != nil {
			return "", fmt.Errorf("bucket %s: %w", id, err)
		}
		name = v
	}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.s3URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", "")})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil &&
		!errors.As(err, &owned) && !errors.As(err, &exists) {
		return "", fmt.Errorf("bucket %s: %w", id, err)
	}
	return name, nil
}

// createTable creates a table as the template declares it and waits until
// it is active.
func createTable(ctx context.Context, ddb *dynamodb.Client, name string, tb samtemplate.Table) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: ddbtypes.BillingMode(tb.BillingMode),
		KeySchema: keySchema(tb.KeySchema)}
	for _, a := range tb.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: ddbtypes.ScalarAttributeType(a.AttributeType)})
	}
	for _, g := range tb.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName), KeySchema: keySchema(g.KeySchema),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(g.Projection.ProjectionType),
				NonKeyAttributes: g.Projection.NonKeyAttributes}})
	}
	if p := tb.ProvisionedThroughput; p != nil {
		in.ProvisionedThroughput = &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(p.ReadCapacityUnits),
			WriteCapacityUnits: aws.Int64(p.WriteCapacityUnits)}
	}
	var inUse *ddbtypes.ResourceInUseException
	if _, err := ddb.CreateTable(ctx, in); err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(ddb, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		return fmt.Errorf("table %s: %w", name, err)
	}
	return nil
}

func keySchema(ks []samtemplate.KeyElement) []ddbtypes.KeySchemaElement {
	out := make([]ddbtypes.KeySchemaElement, len(ks))
	for i, k := range ks {
		out[i] = ddbtypes.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: ddbtypes.KeyType(k.KeyType)}
	}
	return out
}

// pointAt sets the endpoint variables of every function that declares
// them; `sam local invoke` passes only declared variables on.
func (e emulators) pointAt(envs map[string]map[string]string) {
	for _, env := range envs {
		for name, url := range map[string]string{app.EnvSQSEndpoint: e.sqsURL, app.EnvDynamoDBEndpoint: e.dynamoURL,
			app.EnvS3Endpoint: e.s3URL} {
			if _, ok := env[name]; ok {
				env[name] = url
			}
		}
	}
}
