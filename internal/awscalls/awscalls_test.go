package awscalls_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/mailprobe/mailprobe/internal/awscalls"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/secretsemu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

// TestRecordSQS records real calls to the SQS emulator and names the IAM
// action and queue ARN each one needs: a batch send is sqs:SendMessage.
func TestRecordSQS(t *testing.T) {
	var buf bytes.Buffer
	rec := awscalls.NewRecorder(&buf)
	c := awsemu.SQS(t, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, rec.APIOptions()...) })
	ctx := context.Background()
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(t, "calls"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl,
		Entries: []sqstypes.SendMessageBatchRequestEntry{{Id: aws.String("1"), MessageBody: aws.String("x")}}}); err != nil {
		t.Fatal(err)
	}
	calls, err := awscalls.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("calls = %+v, want CreateQueue and SendMessageBatch", calls)
	}
	send := calls[1]
	if got := send.Actions(); !slices.Equal(got, []string{"sqs:SendMessage"}) {
		t.Errorf("SendMessageBatch actions = %v, want sqs:SendMessage", got)
	}
	if got, want := send.ARN("us-east-1", "111111111111"), "arn:aws:sqs:us-east-1:000000000000:"+lastSegment(*q.QueueUrl); got != want {
		t.Errorf("ARN = %q, want %q (the account of the queue URL)", got, want)
	}
}

// TestRecordSecrets records GetParameter and GetSecretValue against moto.
func TestRecordSecrets(t *testing.T) {
	srv := secretsemu.Start(t)
	srv.PutParameter(t, "/mailprobe/secret", "s3cret-value")
	srv.CreateSecret(t, "mailprobe/proxies", "socks5://u:p@127.0.0.1:1080")
	var buf bytes.Buffer
	rec := awscalls.NewRecorder(&buf)
	ctx := context.Background()
	sc := ssm.New(ssm.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(srv.URL),
		APIOptions: rec.APIOptions()})
	if _, err := sc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/mailprobe/secret"), WithDecryption: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL), APIOptions: rec.APIOptions()})
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("mailprobe/proxies")}); err != nil {
		t.Fatal(err)
	}
	calls, err := awscalls.Read(&buf)
	if err != nil || len(calls) != 2 {
		t.Fatalf("calls %+v, %v", calls, err)
	}
	want := []struct{ action, arn string }{
		{"ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/mailprobe/secret"},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:1:secret:mailprobe/proxies-AbCdEf"},
	}
	for i, w := range want {
		if got := calls[i].Actions(); !slices.Equal(got, []string{w.action}) {
			t.Errorf("call %d actions %v, want %s", i, got, w.action)
		}
		if got := calls[i].ARN("us-east-1", "1"); got != w.arn {
			t.Errorf("call %d ARN %q, want %q", i, got, w.arn)
		}
	}
}

func TestActionsAndARNs(t *testing.T) {
	tests := []struct {
		call    awscalls.Call
		actions []string
		arn     string
	}{
		{awscalls.Call{Service: "DynamoDB", Operation: "Query", Resource: map[string]string{"TableName": "t", "IndexName": "gsi1"}},
			[]string{"dynamodb:Query"}, "arn:aws:dynamodb:r:a:table/t/index/gsi1"},
		{awscalls.Call{Service: "DynamoDB", Operation: "TransactWriteItems", Transact: []string{"Put", "Update", "Put"}},
			[]string{"dynamodb:PutItem", "dynamodb:UpdateItem"}, ""},
		{awscalls.Call{Service: "DynamoDB", Operation: "BatchWriteItem", Resource: map[string]string{"TableName": "t"}},
			[]string{"dynamodb:BatchWriteItem"}, "arn:aws:dynamodb:r:a:table/t"},
		{awscalls.Call{Service: "SQS", Operation: "ChangeMessageVisibility", Resource: map[string]string{"QueueUrl": "https://sqs.r.amazonaws.com/123/q"}},
			[]string{"sqs:ChangeMessageVisibility"}, "arn:aws:sqs:r:123:q"},
		{awscalls.Call{Service: "S3", Operation: "PutObject", Resource: map[string]string{"Bucket": "b", "Key": "exports/1.csv"}},
			[]string{"s3:PutObject"}, "arn:aws:s3:::b/exports/1.csv"},
		{awscalls.Call{Service: "S3", Operation: "HeadObject", Resource: map[string]string{"Bucket": "b", "Key": "k"}},
			[]string{"s3:GetObject", "s3:ListBucket"}, "arn:aws:s3:::b/k"},
		{awscalls.Call{Service: "SSM", Operation: "GetParameter", Resource: map[string]string{"Name": "plain"}},
			[]string{"ssm:GetParameter"}, "arn:aws:ssm:r:a:parameter/plain"},
		{awscalls.Call{Service: "Secrets Manager", Operation: "GetSecretValue", Resource: map[string]string{"SecretId": "arn:aws:secretsmanager:r:a:secret:x-123456"}},
			[]string{"secretsmanager:GetSecretValue"}, "arn:aws:secretsmanager:r:a:secret:x-123456"},
	}
	for _, tt := range tests {
		t.Run(tt.call.Service+" "+tt.call.Operation, func(t *testing.T) {
			if got := tt.call.Actions(); !slices.Equal(got, tt.actions) {
				t.Errorf("actions %v, want %v", got, tt.actions)
			}
			if got := tt.call.ARN("r", "a"); got != tt.arn {
				t.Errorf("ARN %q, want %q", got, tt.arn)
			}
		})
	}
}

// TestNeeds: s3:ListBucket is needed on the bucket, not the object.
func TestNeeds(t *testing.T) {
	c := awscalls.Call{Service: "S3", Operation: "HeadObject", Resource: map[string]string{"Bucket": "b", "Key": "exports/1"}}
	want := []awscalls.Need{{"s3:GetObject", "arn:aws:s3:::b/exports/1"}, {"s3:ListBucket", "arn:aws:s3:::b"}}
	if got := c.Needs("r", "a"); !slices.Equal(got, want) {
		t.Errorf("needs %v, want %v", got, want)
	}
}

func lastSegment(u string) string {
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == '/' {
			return u[i+1:]
		}
	}
	return u
}
