// Command lambda-local runs the project's Lambda functions, their SQS
// trigger and DynamoDB table on one machine, as infra/template.yaml wires
// them on AWS (see internal/lambdalocal and the README's "Trying the AWS
// shape locally"). `make run-lambda ARGS='...'` builds and starts it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mailprobe/mailprobe/internal/lambdalocal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := lambdalocal.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
