package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/awscalls"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/politeness"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
	"github.com/mailprobe/mailprobe/internal/queue/sqsq"
	"github.com/mailprobe/mailprobe/internal/s3export"
	"github.com/mailprobe/mailprobe/internal/store/dynamo"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// Environment variables read only by the Lambda entry points.
const (
	// EnvAllowOpen=true lets the API function start without a secret.
	EnvAllowOpen = "MAILPROBE_ALLOW_OPEN"
	// EnvDynamoDBEndpoint and EnvSQSEndpoint point the clients at
	// emulators (end-to-end tests, sam local); unset in AWS.
	EnvDynamoDBEndpoint = "MAILPROBE_DYNAMODB_ENDPOINT"
	EnvSQSEndpoint      = "MAILPROBE_SQS_ENDPOINT"
	// EnvS3Endpoint points the export bucket's client at an emulator,
	// with path-style addressing.
	EnvS3Endpoint = "MAILPROBE_S3_ENDPOINT"
	// EnvConfig names a backend_config.toml to read besides the
	// environment.
	EnvConfig = "MAILPROBE_CONFIG"
	// EnvTimeScale compresses the worker's waits by this factor (the
	// politeness window, retry and redelivery delays), so that `make cost`
	// replays hours of politeness in minutes with the same number of
	// messages. Unset (1) in any deployment.
	EnvTimeScale = "MAILPROBE_TIME_SCALE"
)

// awsParts are what both functions share: configuration, logger, store,
// queue, and the SQS client under the queue.
type awsParts struct {
	cfg    config.Config
	scale  float64 // EnvTimeScale, 1 when unset
	logger *slog.Logger
	store  *dynamo.Store
	queue  *sqsq.Queue
	sqs    *sqs.Client
	aws    aws.Config
}

// awsConfig loads the SDK's configuration, once per cold start; every
// client built from it records its calls when a test asks
// (awscalls.EnvRecord).
func awsConfig(ctx context.Context, environ []string) (aws.Config, error) {
	rec, err := awscalls.Open(getenv(environ, awscalls.EnvRecord))
	if err != nil {
		return aws.Config{}, err
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithAPIOptions(rec.APIOptions()))
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	return ac, nil
}

// loadAWS builds the shared parts on the SDK configuration ac; the logger
// writes to stderr.
func loadAWS(ctx context.Context, environ []string, ac aws.Config, stderr io.Writer) (awsParts, error) {
	cfg, err := config.Load(config.Options{File: getenv(environ, EnvConfig), Environ: environ})
	if err != nil {
		return awsParts{}, err
	}
	if !cfg.Storage.AWS() {
		return awsParts{}, fmt.Errorf("%s and %s must be set", config.EnvTable, config.EnvQueueURL)
	}
	scale := 1.0
	if v := getenv(environ, EnvTimeScale); v != "" {
		if scale, err = strconv.ParseFloat(v, 64); err != nil || scale < 1 {
			return awsParts{}, fmt.Errorf("%s=%q: want a number ≥ 1", EnvTimeScale, v)
		}
	}
	logger := NewLogger(stderr, cfg.LogLevel)
	for _, w := range StartupWarnings(cfg) {
		logger.Warn("configuration", "warning", w)
	}
	// References (header_secret, proxy_urls) are resolved here, once per
	// cold start, with the read access the template grants exactly for
	// them; the clients are built only when there is one to resolve.
	if len(cfg.SecretRefs()) > 0 {
		f := config.AWSSecrets{SSM: ssm.NewFromConfig(ac), SecretsManager: secretsmanager.NewFromConfig(ac)}
		if err := cfg.ResolveSecrets(ctx, f); err != nil {
			return awsParts{}, err
		}
	}
	ddb := dynamodb.NewFromConfig(ac, dynamo.ClientOptions(8, 0), endpoint[dynamodb.Options](getenv(environ, EnvDynamoDBEndpoint)))
	sq := sqs.NewFromConfig(ac, endpoint[sqs.Options](getenv(environ, EnvSQSEndpoint)))
	return awsParts{
		cfg: cfg, scale: scale, logger: logger,
		store: dynamo.New(ddb, cfg.Storage.DynamoDBTable, dynamo.WithRetention(cfg.Retention())),
		queue: sqsq.New(sq, cfg.Storage.SQSQueueURL),
		sqs:   sq,
		aws:   ac,
	}, nil
}

// exports returns the API's export store in the configured bucket, or nil
// without one (the API then pages CSV requests without limit).
func (p awsParts) exports(environ []string) api.ExportStore {
	if p.cfg.Storage.ExportBucket == "" {
		return nil
	}
	url := getenv(environ, EnvS3Endpoint)
	c := s3.NewFromConfig(p.aws, func(o *s3.Options) {
		if url != "" {
			o.BaseEndpoint, o.UsePathStyle = aws.String(url), true
		}
		// Checksums only where S3 requires them: the objects are
		// written once from a local file, and emulators predate the
		// SDK's default ones.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return s3export.New(c, p.cfg.Storage.ExportBucket, 0)
}

// endpoint returns a client option that sets BaseEndpoint when url is set.
func endpoint[O dynamodb.Options | sqs.Options](url string) func(*O) {
	return func(o *O) {
		if url == "" {
			return
		}
		switch o := any(o).(type) {
		case *dynamodb.Options:
			o.BaseEndpoint = aws.String(url)
		case *sqs.Options:
			o.BaseEndpoint = aws.String(url)
		}
	}
}

// APIHandler is the API Gateway (HTTP API, payload v2) Lambda handler.
type APIHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// APIFunction builds the API Gateway (HTTP API, payload v2) handler once per
// cold start. EMF lines go to stdout, logs to stderr.
func APIFunction(ctx context.Context, environ []string) (APIHandler, error) {
	return apiFunction(ctx, environ, os.Stdout, os.Stderr)
}

func apiFunction(ctx context.Context, environ []string, stdout, stderr io.Writer) (APIHandler, error) {
	sdk, err := awsConfig(ctx, environ)
	if err != nil {
		return nil, err
	}
	p, err := loadAWS(ctx, environ, sdk, stderr)
	if err != nil {
		return nil, err
	}
	open, _ := strconv.ParseBool(getenv(environ, EnvAllowOpen))
	ac := APIConfig(p.cfg, open && p.cfg.HeaderSecret.IsZero(), false)
	if err := ac.Validate(); err != nil {
		return nil, fmt.Errorf("%w (or set %s=true to run an open API)", err, EnvAllowOpen)
	}
	if ac.Open {
		p.logger.Warn("NO SECRET CONFIGURED: the API is open (MAILPROBE_ALLOW_OPEN=true)")
	}
	// Inline checks and engine events are counted as EMF lines on
	// stdout, as the worker's are: a registry would be read by nobody in
	// Lambda.
	emf := metrics.NewEMFObserver(stdout, p.cfg.BackendName, p.logger)
	v, err := p.verifier(emf, nil)
	if err != nil {
		return nil, err
	}
	doc, err := NewDoctor(p.cfg)
	if err != nil {
		return nil, err
	}
	h := api.New(ac, api.Deps{
		Checker: v, Jobs: p.store, Queue: p.queue, Cache: p.store, Counter: p.store,
		Metrics: InlineMetrics(p.cfg, p.logger, emf), Logger: p.logger, Doctor: doc, Exports: p.exports(environ),
	})
	return api.LambdaHandler(h), nil
}

// workerFunction builds the SQS-triggered worker handler on the SDK
// configuration ac (see WorkerEntry).
func workerFunction(ctx context.Context, environ []string, ac aws.Config) (WorkerHandler, error) {
	p, err := loadAWS(ctx, environ, ac, os.Stderr)
	if err != nil {
		return nil, err
	}
	// One EMF line per final result, failure and engine event on stdout;
	// a registry would be read by nobody in Lambda.
	emf := metrics.NewEMFObserver(os.Stdout, p.cfg.BackendName, p.logger)
	meter := &politeness.WaitMeter{}
	v, err := p.verifier(emf, meter)
	if err != nil {
		return nil, err
	}
	wc := WorkerConfig(p.cfg)
	wc.Policy = scaledPolicy(wc.Policy, p.scale)
	wc.RetryDelay = scaled(worker.DefaultRetryDelay, p.scale)
	wc.ResendGrace = scaled(worker.DefaultResendGrace, p.scale)
	wc.PolitenessWait = scaled(worker.DefaultPolitenessWait, p.scale)
	wc.MaxDelay = scaled(worker.MaxDelay, p.scale)
	// Records the worker cannot finish come back after a short,
	// growing delay rather than the queue's visibility timeout (the same
	// client changes their visibility; the template grants
	// sqs:ChangeMessageVisibility on the queue).
	w := worker.New(wc, worker.Deps{
		Verifier: v, Store: p.store, Queue: p.queue, Webhook: NewWebhook(p.cfg),
		Observer: emf, Metrics: emf, Logger: p.logger,
	})
	h := sqslambda.New(sqslambda.Config{QueueURL: p.cfg.Storage.SQSQueueURL, Concurrency: wc.Concurrency,
		RedeliveryBase: scaled(sqslambda.DefaultRedeliveryBase, p.scale), Visibility: p.sqs, Logger: p.logger}, w)
	inv := &invocations{handle: h.Handle, meter: meter, logger: p.logger}
	return inv.Handle, nil
}

// invocations logs one line per worker invocation: what it handled and
// how long its sessions waited for the politeness budget, which Lambda
// bills like work.
type invocations struct {
	handle func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	meter  *politeness.WaitMeter
	logger *slog.Logger
	n      atomic.Int64
}

func (i *invocations) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	n := i.n.Add(1)
	i.meter.Take()
	start := time.Now()
	resp, err := i.handle(ctx, ev)
	i.logger.InfoContext(ctx, "Invocation finished", "invocation", n, "records", len(ev.Records),
		"failures", len(resp.BatchItemFailures), "duration_ms", time.Since(start).Milliseconds(),
		"politeness_wait_ms", i.meter.Take().Milliseconds())
	return resp, err
}

// scaled divides d by the time scale.
func scaled(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) / scale)
}

// scaledPolicy is p with its waits divided by the time scale.
func scaledPolicy(p retry.Policy, scale float64) retry.Policy {
	if scale == 1 {
		return p
	}
	sched := p.Schedule
	if len(sched) == 0 {
		sched = retry.DefaultSchedule
	}
	p.Schedule = make([]time.Duration, len(sched))
	for i, d := range sched {
		p.Schedule[i] = scaled(d, scale)
	}
	if p.Window <= 0 {
		p.Window = retry.DefaultWindow
	}
	p.Window = scaled(p.Window, scale)
	p.ConnectionDelay = scaled(p.ConnectionDelay, scale)
	return p
}

// verifier builds the engine with the politeness limiter shared by every
// instance through the table's counters, reporting its events to ev;
// clock, when set, is the limiter's clock.
func (p awsParts) verifier(ev metrics.Events, clock politeness.Clock) (*engine.Verifier, error) {
	lim, err := SharedLimiter(p.cfg, p.store, clock, scaled(politeness.DefaultWindow, p.scale))
	if err != nil {
		return nil, err
	}
	return NewVerifier(p.cfg, lim, ev)
}

// getenv reads key from environ (KEY=VALUE pairs, as os.Environ returns
// them), so the functions are configured only through what they are given.
func getenv(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
