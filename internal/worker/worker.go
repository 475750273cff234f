// Package worker processes queued verification messages: it verifies each
// address of a message with bounded concurrency, stores every final result
// exactly once, sends provisional (greylisted, temporary, unreachable)
// results again when the retry policy (engine/retry) says, and posts
// Reacher's on_each_email webhook. The same
// Worker serves the SQS-triggered Lambda (through internal/queue/sqslambda)
// and the embedded queue
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

// ResultStore keeps the results of a message together, once per message
// key (queue.Message.Key). StoreResults stores them unless the key has
// results already (then it returns those, created=false); Settle records,
// once per key, what a delivery stored and sent back; Outcome reads it, or
// returns store.ErrNotFound. Both stores implement it.
type ResultStore interface {
	StoreResults(ctx context.Context, jobID, key string, recs []store.Record) (stored []store.Record, created bool, err error)
	Settle(ctx context.Context, o store.Outcome) (store.Outcome, bool, error)
	Outcome(ctx context.Context, jobID, key string) (store.Outcome, error)
}

// Rescheduler enqueues messages to be delivered after delay.
type Rescheduler interface {
	Send(ctx context.Context, msgs []queue.Message, delay time.Duration) error
}

// Notifier posts a stored result to a job's webhook; *webhook.Client
// implements it.
type Notifier interface {
	Post(ctx context.Context, t webhook.Target, result json.RawMessage) error
}

// Defaults of Config.
const (
	DefaultConcurrency    = 20
	DefaultPerDomain      = 5                // Reacher's worker.rabbitmq.concurrency
	DefaultProbeBudget    = 60 * time.Second // smtp_timeout 45 s + margin
	DefaultProbeMargin    = 15 * time.Second
	DefaultRetryDelay     = 5 * time.Second
	DefaultResendGrace    = time.Minute
	DefaultPolitenessWait = 3 * time.Second

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
	// the messages the SQS Lambda handler and RunLocal handle at once.
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
	// RetryDelay is how long items a delivery could not start (no slot,
	// no time left) wait before they are sent again, in a message of
	// their own; the local runner also waits it before a message it could
	// not settle is delivered again.
	RetryDelay time.Duration
	// MaxDelay is the longest delay of a message sent back (default and
	// most: SQS's 15 minutes); items due later are sent on again when
	// they arrive early. Only compressed-time measurements shorten it.
	MaxDelay time.Duration
	// PolitenessWait is the longest a check waits for an MX host's
	// politeness budget (rcpts_per_minute_per_mx); its items are sent
	// back to the queue, delayed until the budget booked for them, rather
	// than wait longer (a Lambda invocation is billed while it waits).
	PolitenessWait time.Duration
	// ResendGrace delays the parts a redelivered message sends again: if
	// they had been sent already (only the message's delete was lost),
	// those copies settle first and these check nothing.
	ResendGrace time.Duration
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
	if cfg.ResendGrace <= 0 {
		cfg.ResendGrace = DefaultResendGrace
	}
	if cfg.MaxDelay <= 0 || cfg.MaxDelay > MaxDelay {
		cfg.MaxDelay = MaxDelay
	}
	if cfg.PolitenessWait <= 0 {
		cfg.PolitenessWait = DefaultPolitenessWait
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
