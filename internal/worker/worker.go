// Package worker processes queued verification messages: it verifies each
// address of a message with bounded concurrency, stores every final result
// exactly once, sends provisional (greylisted, temporary, unreachable)
// results again when the retry policy (engine/retry) says, and posts
// Reacher's on_each_email webhook. The same
// Worker serves the SQS-triggered Lambda (HandleSQS) and the embedded queue
// of `mailprobe serve` (RunLocal).
package worker

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/webhook"
)

// Verifier checks one address; *engine.Verifier implements it. The error
// is non-nil only when ctx ended before the check concluded, and the
// result must then not be stored.
type Verifier interface {
	Verify(ctx context.Context, req engine.Request) (engine.Result, error)
}

// ResultStore keeps one result per (job, index). PutResult is idempotent:
// the first write wins and a repeat returns the stored record with
// created=false. GetResult returns store.ErrNotFound when nothing is
// stored yet. Recount counts a record GetResult returned in its job unless
// it is counted already (a delivery may have died between storing a result
// and counting it).
type ResultStore interface {
	PutResult(ctx context.Context, rec store.Record) (stored store.Record, created bool, err error)
	GetResult(ctx context.Context, jobID string, index int) (store.Record, error)
	Recount(ctx context.Context, rec store.Record) error
}

// Rescheduler enqueues messages to be delivered after delay.
type Rescheduler interface {
	Send(ctx context.Context, msgs []queue.Message, delay time.Duration) error
}

// WaitRecorder is a ResultStore that can also show which addresses of a
// job wait for a retry, and until when (GET /v1/bulk/{id} reports them);
// both stores implement it. Without it, nothing is recorded.
type WaitRecorder interface {
	SetWaiting(ctx context.Context, jobID string, waits []store.Wait) error
}

// Notifier posts a stored result to a job's webhook; *webhook.Client
// implements it.
type Notifier interface {
	Post(ctx context.Context, t webhook.Target, result json.RawMessage) error
}

// Defaults of Config.
const (
	DefaultConcurrency = 20
	DefaultPerDomain   = 5                // Reacher's worker.rabbitmq.concurrency
	DefaultProbeBudget = 60 * time.Second // smtp_timeout 45 s + margin
	DefaultProbeMargin = 15 * time.Second
	DefaultRetryDelay  = 5 * time.Second

	// MinDelay and MaxDelay bound a reschedule or redelivery delay;
	// MaxDelay is the largest delay SQS accepts (DelaySeconds 900).
	MinDelay = time.Second
	MaxDelay = queue.MaxDelay
)

// Config tunes a Worker. Zero values take the defaults above.
type Config struct {
	// Concurrency bounds the probes running at once in this process, over
	// all messages: single-address verifications with PerAddress (or a
	// Verifier that cannot share sessions), otherwise shared-session
	// batches, one per domain of a message, each of which may open several
	// SMTP sessions (bounded by the engine's per-MX limits). It also bounds
	// the messages HandleSQS and RunLocal handle at once.
	Concurrency int
	// PerDomain bounds the probes of one domain running at once, over all
	// messages (politeness to its MX hosts): verifications of its
	// addresses, or its shared-session batches. A message may carry
	// several domains; each item takes the slot of its own domain.
	PerDomain int
	// Policy decides whether and when a provisional result (greylisted,
	// temporary, unreachable) is checked again, and when it is final; its
	// zero value is the defaults (engine/retry).
	Policy retry.Policy
	// ProbeBudget is the longest one verification may take (smtp_timeout
	// plus a margin for DNS, storage and the webhook). A probe is started
	// only if the context's deadline leaves at least this much time.
	ProbeBudget time.Duration
	// ProbeMargin is added to a request's own smtp_timeout to make its
	// budget.
	ProbeMargin time.Duration
	// RetryDelay is how long the local runner waits before a message with
	// unfinished items is delivered again.
	RetryDelay time.Duration
	// QueueURL is the URL of the SQS queue whose records HandleSQS
	// receives, for ChangeMessageVisibility (see Deps.Visibility).
	QueueURL string
	// RedeliveryBase is the first delay before SQS delivers an
	// unfinished message again; it doubles with each receive (see
	// RedeliveryDelay).
	RedeliveryBase time.Duration
	// PerAddress verifies each address in a session of its own (the
	// Reacher way) even when the Verifier can share sessions.
	PerAddress bool
	// BackendName is stored with results whose engine did not name one.
	BackendName string
	// LogEmails puts addresses in log lines; otherwise a hash is logged.
	LogEmails bool
	// Now is the clock for created_at and durations (default time.Now).
	Now func() time.Time
}

// Deps are the collaborators of a Worker. Verifier, Store and Queue are
// required; the rest may be nil.
type Deps struct {
	Verifier Verifier
	Store    ResultStore
	Queue    Rescheduler
	Webhook  Notifier
	// Observer records each final result (for example
	// metrics.Observers{registry, metrics.NewEMFObserver(os.Stdout, ...)}).
	// When it is nil, Metrics and EMF are observed instead.
	Observer metrics.Observer
	// Metrics counts failures outside verifications (store, webhook,
	// queue); it also observes each final result when Observer is nil.
	Metrics Metrics
	// EMF, when Observer is nil, gets one CloudWatch EMF line per final
	// result (Lambda stdout), through a metrics.EMFObserver.
	EMF    io.Writer
	Logger *slog.Logger
	// Visibility shortens the wait of the SQS records HandleSQS fails;
	// nil leaves them to the queue's visibility timeout.
	Visibility VisibilityChanger
}

// Metrics counts what the worker sees: final results, and failures
// outside verifications. The prom Registry and metrics.EMFObserver
// implement it.
type Metrics interface {
	metrics.Observer
	IncErrors()
}

// Report says what became of a message's items. Done + Rescheduled +
// Unfinished is the number of items.
type Report struct {
	Done        int // a final result is stored (by this delivery or an earlier one)
	Skipped     int // of Done: already stored before this delivery
	Rescheduled int // provisional (or not due yet): sent again with a delay
	Unfinished  int // not started or not stored: the message must be delivered again
}

// Worker processes messages. It is safe for concurrent use.
type Worker struct {
	cfg     Config
	deps    Deps
	global  *semaphore.Weighted
	domains *keyedLimiter
	obs     metrics.Observer
}

// New builds a Worker.
func New(cfg Config, deps Deps) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.PerDomain <= 0 {
		cfg.PerDomain = DefaultPerDomain
	}
	if cfg.ProbeBudget <= 0 {
		cfg.ProbeBudget = DefaultProbeBudget
	}
	if cfg.ProbeMargin <= 0 {
		cfg.ProbeMargin = DefaultProbeMargin
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.RedeliveryBase <= 0 {
		cfg.RedeliveryBase = DefaultRedeliveryBase
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	obs := deps.Observer
	if obs == nil {
		obs = defaultObserver(deps)
	}
	return &Worker{
		cfg:     cfg,
		deps:    deps,
		global:  semaphore.NewWeighted(int64(cfg.Concurrency)),
		domains: newKeyedLimiter(int64(cfg.PerDomain)),
		obs:     obs,
	}
}

// defaultObserver observes on deps.Metrics and writes EMF lines on
// deps.EMF, whichever are set.
func defaultObserver(deps Deps) metrics.Observer {
	var obs metrics.Observers
	if deps.Metrics != nil {
		obs = append(obs, deps.Metrics)
	}
	if deps.EMF != nil {
		obs = append(obs, metrics.NewEMFObserver(deps.EMF, "", deps.Logger))
	}
	return obs
}
