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
	h, err := app.WorkerFunction(context.Background(), os.Environ())
	if err != nil {
		// The same JSON as every other line, so a log filter finds it.
		app.NewLogger(os.Stderr, "info").Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
