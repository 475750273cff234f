// Package awsemu gives tests SQS, DynamoDB and S3 clients backed by local
// emulators: fauxqs for SQS, dynalite for DynamoDB and s3rver for S3 (see
// shared/docs/local-aws.md for why these).
//
// When MAILPROBE_SQS_ENDPOINT / MAILPROBE_DYNAMODB_ENDPOINT /
// MAILPROBE_S3_ENDPOINT are set (by scripts/emulators.sh start, or by make
// test), the clients use them.
// Otherwise the first call in a test binary starts the emulator from the
// repository's .emulators directory (scripts/emulators.sh install) on a free
// loopback port; it runs until Stop or until the test binary exits.
//
// A test is skipped when the emulators are not installed, unless the
// environment variable CI is set to a true value: in CI a missing emulator is a
// failure, so a green run always means the emulator tests ran.
package awsemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
)

// Environment variables that point the clients at already running emulators.
const (
	EnvSQSEndpoint      = "MAILPROBE_SQS_ENDPOINT"
	EnvDynamoDBEndpoint = "MAILPROBE_DYNAMODB_ENDPOINT"
	EnvS3Endpoint       = "MAILPROBE_S3_ENDPOINT"
)

// S3 credentials: s3rver checks signatures against its one key pair, so
// every client of the S3 emulator, and the Lambda functions of end-to-end
// tests, sign with these.
const (
	S3AccessKey = "S3RVER"
	S3SecretKey = "S3RVER"
)

// Region is the region every emulator client uses.
const Region = "us-east-1"

// ErrNotInstalled marks the one start-up failure that may skip a test
// (run `make emulators`, which runs scripts/emulators.sh install).
var ErrNotInstalled = errors.New("awsemu: emulators not installed (run scripts/emulators.sh install)")

// emulators holds the per-binary emulator processes. It is the one piece of
// package state; it lives in a struct reached through procs() so that it is
// created lazily and only by tests.
type emulators struct {
	sqsOnce, ddbOnce, s3Once sync.Once
	mu                       sync.Mutex
	sqs, ddb, s3             *process
	sqsURL, ddbURL, s3URL    string
	sqsErr, ddbErr, s3Err    error
}

var procs = sync.OnceValue(func() *emulators { return &emulators{} })

// SQS returns an SQS client for the emulator. optFns adjust the client (for
// example to wrap its HTTP client and inject faults).
func SQS(t testing.TB, optFns ...func(*sqs.Options)) *sqs.Client {
	t.Helper()
	e := procs()
	e.sqsOnce.Do(func() { e.sqsURL, e.sqsErr = e.start(EnvSQSEndpoint, startFauxqs) })
	endpoint := mustEndpoint(t, e.sqsURL, e.sqsErr)
	opts := sqs.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
	}
	return sqs.New(opts, optFns...)
}

// DynamoDB returns a DynamoDB client for the emulator. optFns adjust the
// client (for example its retryer or HTTP client).
func DynamoDB(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	e := procs()
	e.ddbOnce.Do(func() { e.ddbURL, e.ddbErr = e.start(EnvDynamoDBEndpoint, startDynalite) })
	endpoint := mustEndpoint(t, e.ddbURL, e.ddbErr)
	opts := dynamodb.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
	}
	return dynamodb.New(opts, optFns...)
}

// S3Endpoint returns the URL of the S3 emulator, starting it if needed.
func S3Endpoint(t testing.TB) string {
	t.Helper()
	e := procs()
	e.s3Once.Do(func() { e.s3URL, e.s3Err = e.start(EnvS3Endpoint, startS3rver) })
	return mustEndpoint(t, e.s3URL, e.s3Err)
}

// S3 returns an S3 client for the emulator, with path-style addressing (a
// loopback endpoint has no bucket subdomains) and checksums only where S3
// requires them (s3rver predates the SDK's default ones).
func S3(t testing.TB, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	opts := s3.Options{
		Region:                     Region,
		Credentials:                credentials.NewStaticCredentialsProvider(S3AccessKey, S3SecretKey, ""),
		BaseEndpoint:               aws.String(S3Endpoint(t)),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	return s3.New(opts, optFns...)
}

// Stop ends the emulator processes this test binary started, if any. Call it
// from TestMain after m.Run; processes started from outside are left alone.
func Stop() {
	e := procs()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range []*process{e.sqs, e.ddb, e.s3} {
		if p != nil {
			p.stop()
		}
	}
}

// Name returns a name unique to this test and call, valid as an SQS queue
// name and a DynamoDB table name (3-80 characters of [A-Za-z0-9_-]).
func Name(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("awsemu: random name: %v", err)
	}
	base := invalidName.ReplaceAllString(prefix+"-"+t.Name(), "-")
	if len(base) > 60 {
		base = base[:60]
	}
	return base + "-" + hex.EncodeToString(b[:])
}

var invalidName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func mustEndpoint(t testing.TB, url string, err error) string {
	t.Helper()
	switch {
	case err == nil:
		return url
	case errors.Is(err, ErrNotInstalled):
		prereq.Missing(t, err.Error()+"; or set "+EnvSQSEndpoint+"/"+EnvDynamoDBEndpoint+" to use running emulators")
	default:
		t.Fatalf("%v", err)
	}
	return ""
}

// start returns the endpoint from env, or starts the emulator with launch.
func (e *emulators) start(env string, launch func(ctx context.Context, root string) (*process, error)) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	root, err := prereq.Root()
	if err != nil {
		return "", err
	}
	p, err := launch(context.Background(), root)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch env {
	case EnvSQSEndpoint:
		e.sqs = p
	case EnvS3Endpoint:
		e.s3 = p
	default:
		e.ddb = p
	}
	return p.url, nil
}
