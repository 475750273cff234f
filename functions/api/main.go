// Command api is the API Gateway (HTTP API) Lambda function: the same
// handler as `mailprobe serve`, on DynamoDB and SQS.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mailprobe/mailprobe/internal/app"
)

func main() {
	h, err := app.APIFunction(context.Background(), os.Environ())
	if err != nil {
		// The same JSON as every other line, so a log filter finds it.
		app.NewLogger(os.Stderr, "info").Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
