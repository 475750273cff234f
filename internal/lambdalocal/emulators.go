package lambdalocal

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

// emulators are the SQS and DynamoDB emulators and their clients.
type emulators struct {
	sqsURL, ddbURL string
	sqs            *sqs.Client
	ddb            *dynamodb.Client
	started        []*awsemu.Emulator
	// shared is set when the emulators were already running (their
	// endpoints in MAILPROBE_SQS_ENDPOINT / MAILPROBE_DYNAMODB_ENDPOINT,
	// as `scripts/emulators.sh start` exports them): then lambda-local
	// deletes what it created instead of stopping them.
	shared bool
}

// startEmulators uses running emulators when their endpoints are set, or
// starts fauxqs and dynalite from the repository's .emulators, as the
// tests do.
func (l *local) startEmulators(ctx context.Context) error {
	e := &l.emu
	e.sqsURL, e.ddbURL = l.emulatorEndpoints()
	e.shared = e.sqsURL != "" || e.ddbURL != ""
	starts := []struct {
		url   *string
		start func(context.Context, string) (*awsemu.Emulator, error)
	}{{&e.sqsURL, awsemu.StartSQS}, {&e.ddbURL, awsemu.StartDynamoDB}}
	for _, s := range starts {
		if *s.url != "" {
			continue
		}
		em, err := s.start(ctx, l.root)
		if errors.Is(err, awsemu.ErrNotInstalled) {
			return fmt.Errorf("%w: run `make emulators` (make run-lambda does)", err)
		}
		if err != nil {
			return err
		}
		e.started = append(e.started, em)
		*s.url = em.URL
	}
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	e.sqs = sqs.New(sqs.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(e.sqsURL)})
	e.ddb = dynamodb.New(dynamodb.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(e.ddbURL)})
	var pids []int
	for _, em := range e.started {
		pids = append(pids, em.Pid())
	}
	l.log.Info("emulators", "sqs", e.sqsURL, "dynamodb", e.ddbURL, "already_running", e.shared, "pids", pids)
	return nil
}

func (e *emulators) stop() {
	for _, em := range e.started {
		em.Stop()
	}
	e.started = nil
}
