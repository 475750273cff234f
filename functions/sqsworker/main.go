// Command sqsworker is the SQS-triggered Lambda function: it verifies the
// addresses of each message and stores the results in DynamoDB.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mailprobe/mailprobe/internal/app"
)

func main() {
	h, err := app.WorkerFunction(context.Background(), os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, `{"level":"ERROR","msg":"cold start failed","error":%q}`+"\n", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
