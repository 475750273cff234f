package lambdalocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	e.sqs, e.ddb, e.s3 = clients(e.sqsURL, e.ddbURL, e.s3URL)
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

// clients returns the clients of the emulators at the URLs; S3's is nil
// without its URL.
func clients(sqsURL, ddbURL, s3URL string) (*sqs.Client, *dynamodb.Client, *s3.Client) {
	creds := credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")
	sq := sqs.New(sqs.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(sqsURL)})
	ddb := dynamodb.New(dynamodb.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(ddbURL)})
	if s3URL == "" {
		return sq, ddb, nil
	}
	return sq, ddb, s3.New(s3.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(s3URL), UsePathStyle: true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired})
}

// Endpoints are the URLs of running SQS, DynamoDB and S3 emulators.
type Endpoints struct{ SQS, DynamoDB, S3 string }

// ProvisionStable creates the template's queues (dead-letter queues first),
// tables and buckets in running emulators as lambda-local does at start-up
// (for `sam local invoke`, cmd/sam-env-vars), but named stack-LogicalId
// and kept: a second run finds them in place. It sets in st what !Ref and
// !GetAtt give for them and returns notes on what the emulators do not do.
// Without an S3 endpoint, buckets stay as st has them.
func ProvisionStable(ctx context.Context, d *samtemplate.Deployment, st samtemplate.Stack, e Endpoints, stack string) ([]string, error) {
	c := &created{refs: st.Refs, attrs: st.Attrs, queues: map[string]samtemplate.Queue{}, secrets: map[string]string{}}
	p := &provisioner{d: d, r: d.Resolver(st), stackName: stack, stable: true, log: slog.New(slog.DiscardHandler), c: c}
	p.sqs, p.ddb, p.s3 = clients(e.SQS, e.DynamoDB, e.S3)
	for _, res := range d.Resources() {
		ok, err := p.r.Exists(res)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		switch {
		case res.Type == samtemplate.QueueType:
			err = p.queue(ctx, res.ID, map[string]bool{})
		case res.Type == samtemplate.TableType:
			err = p.table(ctx, res.ID)
		case res.Type == bucketType && p.s3 == nil:
			c.note("%s: no S3 emulator (%s is unset): it stays a placeholder", res.ID, awsemu.EnvS3Endpoint)
		case res.Type == bucketType:
			err = p.bucket(ctx, res.ID)
		}
		if err != nil {
			return nil, err
		}
	}
	return c.notes, nil
}
