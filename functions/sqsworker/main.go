// Command sqsworker is the SQS-triggered Lambda function: it verifies the
// addresses of each message and stores the results in DynamoDB.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mailprobe/mailprobe/internal/app"
)

func main() {
	// A failed cold start is logged and retried batch by batch, with the
	// batch's messages back on the redelivery schedule (see WorkerEntry).
	lambda.Start(app.WorkerEntry(context.Background(), os.Environ()))
}
