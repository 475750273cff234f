package lambdalocal

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

// emulators are the SQS, DynamoDB and S3 emulators and their clients.
type emulators struct {
	sqsURL, ddbURL, s3URL string
	sqs                   *sqs.Client
	ddb                   *dynamodb.Client
	s3                    *s3.Client
	started               []*awsemu.Emulator
	// shared is set when the emulators were already running (their
	// endpoints in MAILPROBE_SQS_ENDPOINT, MAILPROBE_DYNAMODB_ENDPOINT
	// and MAILPROBE_S3_ENDPOINT, as `scripts/emulators.sh start` exports
	// them): then lambda-local deletes what it created instead of stopping
	// them.
	shared bool
}

// startEmulators starts the emulators of the resource types the template
// uses (fauxqs, dynalite, s3rver from the repository's .emulators, as the
// tests do), or uses running ones when their endpoints are set.
func (l *local) startEmulators(ctx context.Context) error {
	e := &l.emu
	types := map[string]bool{}
	for _, r := range l.d.Resources() {
		types[r.Type] = true
	}
	starts := []struct {
		typ, env string
		url      *string
		start    func(context.Context, string) (*awsemu.Emulator, error)
	}{
		{samtemplate.QueueType, awsemu.EnvSQSEndpoint, &e.sqsURL, awsemu.StartSQS},
		{samtemplate.TableType, awsemu.EnvDynamoDBEndpoint, &e.ddbURL, awsemu.StartDynamoDB},
		{bucketType, awsemu.EnvS3Endpoint, &e.s3URL, awsemu.StartS3},
	}
	for _, s := range starts {
		if !types[s.typ] {
			continue
		}
		if *s.url = getenv(l.o.Environ, s.env); *s.url != "" {
			e.shared = true
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
	creds := credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")
	e.sqs = sqs.New(sqs.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(e.sqsURL)})
	e.ddb = dynamodb.New(dynamodb.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(e.ddbURL)})
	e.s3 = s3.New(s3.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(e.s3URL), UsePathStyle: true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired})
	var pids []int
	for _, em := range e.started {
		pids = append(pids, em.Pid())
	}
	l.log.Info("emulators", "sqs", e.sqsURL, "dynamodb", e.ddbURL, "s3", e.s3URL, "already_running", e.shared, "pids", pids)
	return nil
}

// The credentials of every emulator client, the functions' included:
// s3rver checks signatures against its one key pair, and fauxqs and
// dynalite accept any.
const (
	accessKey = awsemu.S3AccessKey
	secretKey = awsemu.S3SecretKey
)

func (e *emulators) stop() {
	for _, em := range e.started {
		em.Stop()
	}
	e.started = nil
}
