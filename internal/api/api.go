package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/throttle"
)

// Checker verifies one address; *engine.Verifier implements it. Verify
// returns an error only when ctx ended before the check concluded.
type Checker interface {
	Verify(ctx context.Context, req engine.Request) (engine.Result, error)
}

// JobStore keeps bulk and single-shot jobs and their results.
type JobStore interface {
	CreateJob(ctx context.Context, job store.Job) error
	GetJob(ctx context.Context, id string) (store.Job, error)
	ListResults(ctx context.Context, jobID string, offset, limit int) ([]store.Record, error)
}

// ResultCache stores final results by cache key.
type ResultCache interface {
	GetCache(ctx context.Context, key string, now time.Time) (json.RawMessage, bool, error)
	PutCache(ctx context.Context, key string, value json.RawMessage, expires time.Time) error
}

// Enqueuer hands message bodies, encoded with queue.Encode, to the worker
// queue (SQS, or the embedded queue locally), delivered no earlier than
// delay from now. The API encodes every message itself, once: a bulk job's
// messages must all be known good before the job is created, and those
// same bytes are sent. A *queue.SendError's indices are indices into bodies.
type Enqueuer interface {
	SendRaw(ctx context.Context, delay time.Duration, bodies ...[]byte) error
}

// Metrics records one finished verification.
type Metrics interface {
	Observe(result engine.Result, dur time.Duration)
}

// Config holds the API's settings. Start from DefaultConfig: a zero
// CacheTTL disables the cache and zero throttle limits disable throttling.
type Config struct {
	// Secret is the expected x-reacher-secret value. When empty, Open must
	// be set, or every authenticated route answers 401 (fail closed).
	Secret string
	// Open allows running without a secret. The wiring warns loudly.
	Open bool

	InlineBudget time.Duration   // longest a check runs before its result so far is answered; default 25s
	CacheTTL     time.Duration   // lifetime of cached results; 0 (the default) disables the cache
	Throttle     throttle.Limits // per second/minute/hour/day; zero fields (the default) are unlimited
	LogEmails    bool            // include addresses in request logs
	// AuthFailuresPerMinute is how many wrong secrets one client address
	// may send per minute before all its authenticated requests get 429
	// for the rest of the minute; default 10, negative disables.
	AuthFailuresPerMinute int
	// AllowedHosts are the host names a server without a secret answers
	// to besides IP literals and localhost (DNS rebinding protection, see
	// hostAllowed); AnyHost turns the check off, for deployments whose
	// front end fixes the host (API Gateway).
	AllowedHosts []string
	AnyHost      bool
	ServeMetrics bool // expose GET /metrics (local mode)

	MaxBodyBytes     int64 // single check body; default 16 KiB (Reacher's limit)
	MaxBulkBytes     int64 // bulk body; default DefaultMaxBulkBytes, LambdaMaxBulkBytes on Lambda
	MaxBulkAddresses int   // addresses per bulk job; default 100 000
	BatchItems       int   // addresses per queue message; default 100
	BatchBytes       int   // bytes per queue message; default and maximum queue.MaxBodyBytes (SQS's 256 KiB)

	// BufferedResponses says that responses are buffered whole and capped
	// (API Gateway and Lambda: 6 MB), so nothing can be streamed: a CSV
	// request without limit is then redirected to a full export in
	// Deps.Exports (or, without one, paged).
	BufferedResponses bool
	// ExportKey signs the local export URLs of POST /v1/bulk/{id}/export
	// when there is no Deps.Exports; New draws a random one when it is
	// empty, so such URLs die with the process.
	ExportKey []byte
	// ExportTTL is how long an export URL stays valid; default 15 min.
	ExportTTL time.Duration

	Version string // overrides the module version in /version (set by -ldflags in the wiring)
	Commit  string // overrides the VCS revision in /version
}

// Limits of a bulk request body.
const (
	// DefaultMaxBulkBytes is the default Config.MaxBulkBytes, 8 MiB, for
	// `mailprobe serve`.
	DefaultMaxBulkBytes = 8 << 20
	// LambdaMaxBulkBytes, 5.5 MiB, is the Config.MaxBulkBytes to use behind
	// API Gateway: Lambda takes at most 6 MB of payload per synchronous
	// invocation, and the body travels inside the JSON event, its quotes
	// escaped (two more bytes per address: 200 KB for 100 000). A body that
	// does not fit fails the invocation before the handler runs, and the
	// client gets API Gateway's error instead of this API's 413.
	LambdaMaxBulkBytes = 11 << 19
)

// DefaultConfig returns the documented defaults: 25 s inline budget, no
// cache and no throttle, as Reacher (the production checklist in README.md
// recommends a 24 h cache, 60 requests per minute and 10 000 per day).
func DefaultConfig() Config {
	return Config{
		InlineBudget:     25 * time.Second,
		MaxBodyBytes:     16 << 10,
		MaxBulkBytes:     DefaultMaxBulkBytes,
		MaxBulkAddresses: 100000,
		BatchItems:       100,
		BatchBytes:       queue.MaxBodyBytes,
		ExportTTL:        15 * time.Minute,

		AuthFailuresPerMinute: 10,
	}
}

// ErrNoSecret is returned by Config.Validate when no secret is configured
// and the API was not explicitly opened.
var ErrNoSecret = errors.New("api: no x-reacher-secret configured; set one or run open explicitly")

// Validate reports settings the API cannot run with safely. New does not
// call it (an http.Handler cannot fail); the wiring does, once at start.
func (c Config) Validate() error {
	if c.Secret == "" && !c.Open {
		return ErrNoSecret
	}
	return nil
}

// withDefaults fills the fields whose zero value is meaningless.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.InlineBudget <= 0 {
		c.InlineBudget = d.InlineBudget
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.MaxBulkBytes <= 0 {
		c.MaxBulkBytes = d.MaxBulkBytes
	}
	if c.MaxBulkAddresses <= 0 {
		c.MaxBulkAddresses = d.MaxBulkAddresses
	}
	if c.BatchItems <= 0 {
		c.BatchItems = d.BatchItems
	}
	if c.BatchBytes <= 0 || c.BatchBytes > queue.MaxBodyBytes {
		c.BatchBytes = d.BatchBytes
	}
	if c.ExportTTL <= 0 {
		c.ExportTTL = d.ExportTTL
	}
	if c.AuthFailuresPerMinute == 0 {
		c.AuthFailuresPerMinute = d.AuthFailuresPerMinute
	}
	return c
}

// Deps are the collaborators of the API. Checker is required; a nil Jobs or
// Queue makes the routes that need them answer 503, a nil Cache disables
// caching, a nil Counter counts in memory (fine for one process, wrong for
// Lambda, where the DynamoDB store must be passed).
type Deps struct {
	Checker        Checker
	Jobs           JobStore
	Queue          Enqueuer
	Cache          ResultCache
	Counter        throttle.Counter
	Metrics        Metrics
	MetricsHandler http.Handler // serves GET /metrics when Config.ServeMetrics
	Doctor         Doctor       // serves GET /v1/doctor; nil answers 503
	Exports        ExportStore  // full exports behind short-lived URLs (S3 on Lambda); nil: local signed URLs
	Logger         *slog.Logger
	Now            func() time.Time
	NewJobID       func() string // tests make ids predictable; default: random decimal ids
}

// Route describes one endpoint, for the OpenAPI test and the SAM template
// test.
type Route struct {
	Method    string
	Path      string // API Gateway and net/http syntax: /v1/bulk/{job_id}
	Auth      bool   // requires x-reacher-secret
	Bearer    bool   // also accepts the secret as Authorization: Bearer (Prometheus scrapes)
	Throttled bool   // counts against the rate limits
	JSONBody  bool   // reads a JSON body: Content-Type must be application/json
	LocalOnly bool   // served by `mailprobe serve` only, not declared in the SAM template
}

// Routes lists every endpoint the handler serves.
func Routes() []Route {
	return []Route{
		{Method: http.MethodPost, Path: "/v0/check_email", Auth: true, Throttled: true, JSONBody: true},
		{Method: http.MethodPost, Path: "/v1/check_email", Auth: true, Throttled: true, JSONBody: true},
		{Method: http.MethodGet, Path: "/v1/check_email/{job_id}", Auth: true},
		{Method: http.MethodPost, Path: "/v0/bulk", Auth: true, Throttled: true, JSONBody: true},
		{Method: http.MethodGet, Path: "/v0/bulk/{job_id}", Auth: true},
		{Method: http.MethodGet, Path: "/v0/bulk/{job_id}/results", Auth: true},
		{Method: http.MethodPost, Path: "/v1/bulk", Auth: true, Throttled: true, JSONBody: true},
		{Method: http.MethodGet, Path: "/v1/bulk/{job_id}", Auth: true},
		{Method: http.MethodGet, Path: "/v1/bulk/{job_id}/results", Auth: true},
		{Method: http.MethodPost, Path: "/v1/bulk/{job_id}/export", Auth: true},
		// The signed download URL of a local export: the signature is
		// the credential (Lambda hands out presigned S3 URLs instead).
		{Method: http.MethodGet, Path: "/v1/bulk/{job_id}/export", LocalOnly: true},
		{Method: http.MethodGet, Path: "/v1/doctor", Auth: true, Throttled: true},
		{Method: http.MethodGet, Path: "/healthz"},
		{Method: http.MethodGet, Path: "/version"},
		{Method: http.MethodGet, Path: "/openapi.json", Auth: true},
		{Method: http.MethodGet, Path: "/metrics", Auth: true, Bearer: true, LocalOnly: true},
		// The web console (package console): its page and its files.
		{Method: http.MethodGet, Path: "/"},
		{Method: http.MethodGet, Path: "/console"},
		{Method: http.MethodGet, Path: "/console/{asset}"},
	}
}

// New builds the API handler.
func New(cfg Config, deps Deps) http.Handler {
	cfg = cfg.withDefaults()
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.NewJobID == nil {
		deps.NewJobID = randomJobID
	}
	if deps.Counter == nil {
		deps.Counter = throttle.NewMemory(deps.Now)
	}
	if len(cfg.ExportKey) == 0 {
		cfg.ExportKey = make([]byte, 32)
		_, _ = rand.Read(cfg.ExportKey) // crypto/rand.Read never fails (Go 1.24+)
	}
	s := &server{
		cfg:      cfg,
		deps:     deps,
		log:      deps.Logger,
		mux:      http.NewServeMux(),
		limiter:  throttle.New(deps.Counter, cfg.Throttle, throttle.WithClock(deps.Now)),
		auth:     newAuthenticator(cfg.Secret, cfg.Open),
		authFail: newAuthLimiter(cfg.AuthFailuresPerMinute, time.Minute, deps.Now),
		version:  buildVersion(cfg.Version, cfg.Commit),
	}
	if cfg.Secret == "" && !cfg.Open {
		s.log.Error("api: no secret configured and not open: every authenticated route answers 401")
	}
	handlers := map[string]http.HandlerFunc{
		"POST /v0/check_email":          s.checkEmail,
		"POST /v1/check_email":          s.checkEmail,
		"GET /v1/check_email/{job_id}":  s.checkStatus,
		"POST /v0/bulk":                 s.bulkCreateV0,
		"GET /v0/bulk/{job_id}":         s.bulkStatus,
		"GET /v0/bulk/{job_id}/results": s.bulkResults,
		"POST /v1/bulk":                 s.bulkCreate,
		"GET /v1/bulk/{job_id}":         s.bulkStatus,
		"GET /v1/bulk/{job_id}/results": s.bulkResults,
		"POST /v1/bulk/{job_id}/export": s.bulkExport,
		"GET /v1/bulk/{job_id}/export":  s.exportDownload,
		"GET /v1/doctor":                s.doctorReport,
		"GET /healthz":                  s.healthz,
		"GET /version":                  s.versionInfo,
		"GET /openapi.json":             s.openAPI,
		"GET /metrics":                  s.metrics,
	}
	page := s.newConsole()
	for _, p := range []string{"GET /", "GET /console", "GET /console/{asset}"} {
		handlers[p] = page.ServeHTTP
	}
	for _, rt := range Routes() {
		pattern := rt.Method + " " + rt.Path
		switch {
		case rt.Path == "/metrics" && (!cfg.ServeMetrics || deps.MetricsHandler == nil),
			pattern == "GET /v1/bulk/{job_id}/export" && (cfg.BufferedResponses || deps.Exports != nil):
			continue // unregistered: 404 like any unknown path
		}
		for _, mp := range muxPatterns(rt) {
			s.mux.Handle(mp, s.route(pattern, rt, handlers[pattern]))
		}
	}
	return s
}
