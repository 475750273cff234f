// Command api is the API Gateway (HTTP API) Lambda function: the same
// handler as `mailprobe serve`, on DynamoDB and SQS.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mailprobe/mailprobe/internal/app"
)

func main() {
	h, err := app.APIFunction(context.Background(), os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, `{"level":"ERROR","msg":"cold start failed","error":%q}`+"\n", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
