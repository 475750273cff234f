package awsemu

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

func TestClients(t *testing.T) {
	ctx := context.Background()
	t.Run("sqs", func(t *testing.T) {
		c := SQS(t)
		name := Name(t, "q")
		if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
			t.Fatalf("CreateQueue(%s): %v", name, err)
		}
	})
	t.Run("dynamodb", func(t *testing.T) {
		c := DynamoDB(t)
		if _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
			t.Fatalf("ListTables: %v", err)
		}
	})
}

func TestName(t *testing.T) {
	tests := []struct{ prefix string }{{"q"}, {"a very/long:prefix that keeps going and going and going on"}}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			a, b := Name(t, tt.prefix), Name(t, tt.prefix)
			if a == b {
				t.Errorf("Name twice = %q, want distinct names", a)
			}
			if len(a) < 3 || len(a) > 80 || invalidName.MatchString(a) {
				t.Errorf("Name = %q, want 3-80 chars of [A-Za-z0-9_-]", a)
			}
		})
	}
}

// TestAbortedRequest: a client that goes away in the middle of a request
// (a function killed mid-call) leaves DynamoDB's emulator running for every
// other test (scripts/dynalite-guard.js).
func TestAbortedRequest(t *testing.T) {
	c := DynamoDB(t)
	u, err := url.Parse(aws.ToString(c.Options().BaseEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\n"+
			"X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 1000\r\n\r\n{\"Li", u.Host)
		time.Sleep(20 * time.Millisecond) // the server is reading the body
		conn.Close()
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := c.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("after aborted requests: %v", err)
	}
}
