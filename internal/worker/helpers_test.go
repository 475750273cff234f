package worker_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/metrics/prom"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/local"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/bolt"
	"github.com/mailprobe/mailprobe/internal/store/dynamo"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/worker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

// handleSQS runs w as the SQS-triggered Lambda runs it.
func handleSQS(w *worker.Worker, ctx context.Context, ev events.SQSEvent, cfg sqslambda.Config) (events.SQSEventResponse, error) {
	return sqslambda.New(cfg, w).Handle(ctx, ev)
}

// visibilityRecorder records the ChangeMessageVisibility calls of the SQS
// adapter.
type visibilityRecorder struct {
	mu    sync.Mutex
	calls []visibilityCall
}

type visibilityCall struct {
	receipt string
	timeout time.Duration
}

func (r *visibilityRecorder) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, visibilityCall{aws.ToString(in.ReceiptHandle), time.Duration(in.VisibilityTimeout) * time.Second})
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (r *visibilityRecorder) recorded() []visibilityCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]visibilityCall(nil), r.calls...)
}

// brokenStore fails every call, as a store that is down: the records of
// a delivery that cannot store anything come back to be delivered again.
type brokenStore struct{}

var errStoreDown = errors.New("store down")

func (brokenStore) StoreResults(context.Context, string, string, []store.Record) ([]store.Record, bool, error) {
	return nil, false, errStoreDown
}

func (brokenStore) Settle(context.Context, store.Outcome) (store.Outcome, bool, error) {
	return store.Outcome{}, false, errStoreDown
}

func (brokenStore) Outcome(context.Context, string, string) (store.Outcome, error) {
	return store.Outcome{}, errStoreDown
}

// waitLimit guards the loops that wait for background work; reaching it
// is a failure (something hangs), not a speed assertion.
const waitLimit = 2 * time.Minute

// env is a complete local installation on loopback: a DNS server that
// publishes every test domain with the SMTP server as its MX, the real
// bolt store and the real embedded queue, each in its own temp file.
type env struct {
	t       testing.TB
	dns     *dnstest.Server
	mail    *smtptest.Server
	dir     string
	store   testStore
	bolt    bool // the store is a bbolt file in dir, closed and reopened with the queue
	queue   *local.Queue
	metrics *prom.Registry
	logs    *syncBuffer
	emf     *syncBuffer
}

// testStore is what the tests need of a store: the worker's interface,
// jobs and reads.
type testStore interface {
	worker.ResultStore
	CreateJob(ctx context.Context, j store.Job) error
	GetJob(ctx context.Context, id string) (store.Job, error)
	ListResults(ctx context.Context, jobID string, offset, limit int) ([]store.Record, error)
}

// envMaker makes an env; onStores runs a test with one for each store.
type envMaker func(t testing.TB, o smtptest.Options) *env

// onStores runs test on both stores: the bbolt file of `mailprobe serve`
// and DynamoDB (on dynalite), which the Lambda functions use.
func onStores(t *testing.T, test func(t *testing.T, newEnv envMaker)) {
	t.Run("bolt", func(t *testing.T) { test(t, newEnv) })
	t.Run("dynamo", func(t *testing.T) { test(t, newDynamoEnv) })
}

// newEnv makes an env whose store is a bbolt file.
func newEnv(t testing.TB, o smtptest.Options) *env {
	t.Helper()
	e := &env{t: t, dns: dnstest.Start(t, nil), mail: smtptest.Start(t, o), dir: t.TempDir(), bolt: true,
		metrics: prom.New(prom.Options{}), logs: &syncBuffer{}, emf: &syncBuffer{}}
	e.open()
	t.Cleanup(e.close)
	return e
}

// newDynamoEnv makes an env whose store is a DynamoDB table on the
// emulator; a restart reopens only the queue.
func newDynamoEnv(t testing.TB, o smtptest.Options) *env {
	t.Helper()
	client := awsemu.DynamoDB(t)
	table := awsemu.Name(t, "w")
	if err := dynamo.CreateTable(context.Background(), client, table); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dns: dnstest.Start(t, nil), mail: smtptest.Start(t, o), dir: t.TempDir(),
		store:   dynamo.New(client, table),
		metrics: prom.New(prom.Options{}), logs: &syncBuffer{}, emf: &syncBuffer{}}
	e.open()
	t.Cleanup(e.close)
	return e
}

// open (re)opens the queue and, for bbolt, the store file, as a restarted
// process would.
func (e *env) open() {
	e.t.Helper()
	q, err := local.Open(filepath.Join(e.dir, "queue.db"), local.Options{MaxReceiveCount: 3})
	if err != nil {
		e.t.Fatal(err)
	}
	e.queue = q
	if !e.bolt {
		return
	}
	st, err := bolt.Open(filepath.Join(e.dir, "store.db"))
	if err != nil {
		q.Close()
		e.t.Fatal(err)
	}
	e.store = st
}

func (e *env) close() {
	if e.queue != nil {
		e.queue.Close()
	}
	if b, ok := e.store.(*bolt.Store); ok && e.bolt {
		b.Close()
		e.store = nil
	}
	e.queue = nil
}

// restart closes and reopens the files.
func (e *env) restart() {
	e.close()
	e.open()
}

// addDomains publishes domains with the SMTP server as their MX.
func (e *env) addDomains(domains ...string) {
	for _, d := range domains {
		e.dns.AddMX(d+".", 10, "mx."+d+".")
		e.dns.AddA("mx."+d+".", e.mail.Host())
	}
}

// verifier is a real engine that resolves through the test DNS and talks
// to the test SMTP server directly (mutate may add a proxy).
func (e *env) verifier(mutate func(*engine.Config)) *engine.Verifier {
	e.t.Helper()
	res, err := mx.New(mx.Config{Servers: []string{e.dns.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := engine.Config{
		BackendName:    "test-backend",
		Resolver:       res,
		AllowDirect:    true,
		AllowPrivateMX: true,
		Defaults: engine.SMTPSettings{Port: e.mail.Port(), Timeout: 10 * time.Second,
			FromEmail: "probe@mailprobe.test", HelloName: "mailprobe.test"},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := engine.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// worker builds a Worker over the env's store, queue, metrics and logs.
func (e *env) worker(cfg worker.Config, v worker.Verifier, q worker.Rescheduler, hook worker.Notifier) *worker.Worker {
	if q == nil {
		q = e.queue
	}
	if cfg.BackendName == "" {
		cfg.BackendName = "test-backend"
	}
	return worker.New(cfg, worker.Deps{Verifier: v, Store: e.store, Queue: q, Webhook: hook,
		Observer: metrics.Observers{e.metrics, metrics.NewEMFObserver(e.emf, "", nil)}, Metrics: e.metrics,
		Logger: testLogger(e.logs)})
}

// job creates a job for emails and returns its messages.
func (e *env) job(id string, emails []string, req []byte, maxItems int) []queue.Message {
	e.t.Helper()
	if err := e.store.CreateJob(context.Background(), store.Job{ID: id, Total: len(emails), CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return queue.Batch(id, emails, req, maxItems, queue.MaxBodyBytes)
}

// assertExact checks the final store content: exactly one result per
// address, in input order, and job counters equal to the input.
func (e *env) assertExact(jobID string, emails []string, want store.Summary) {
	e.t.Helper()
	ctx := context.Background()
	recs, err := e.store.ListResults(ctx, jobID, 0, len(emails)+10)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(recs) != len(emails) {
		e.t.Errorf("%d stored results, want %d", len(recs), len(emails))
	}
	for i, r := range recs {
		if r.Index != i || r.Input != emails[min(i, len(emails)-1)] {
			e.t.Errorf("result %d is index %d input %q, want index %d input %q", i, r.Index, r.Input, i, emails[min(i, len(emails)-1)])
			break
		}
	}
	j, err := e.store.GetJob(ctx, jobID)
	if err != nil {
		e.t.Fatal(err)
	}
	if j.Processed != len(emails) || j.Summary != want || j.Status() != store.StatusCompleted {
		e.t.Errorf("job processed %d summary %+v status %s, want %d %+v Completed", j.Processed, j.Summary, j.Status(), len(emails), want)
	}
}

// runLocal runs the local runner until the job is complete, then stops it
// and checks that it returned.
func (e *env) runLocal(w *worker.Worker, jobID string) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.RunLocal(ctx, e.queue, w) }()
	e.waitFor(func() bool {
		j, err := e.store.GetJob(context.Background(), jobID)
		return err == nil && j.Status() == store.StatusCompleted
	}, "job "+jobID+" to complete")
	cancel()
	if err := <-done; err != nil {
		e.t.Errorf("RunLocal: %v", err)
	}
}

func (e *env) waitFor(cond func() bool, what string) {
	e.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func netipAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
