package metrics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// Observer records one finished verification. *Registry, *EMFObserver,
// CompletionLog and Observers implement it.
type Observer interface {
	Observe(res engine.Result, d time.Duration)
}

// Observers passes each observation to every observer, in order.
type Observers []Observer

// Observe calls Observe on each observer.
func (obs Observers) Observe(res engine.Result, d time.Duration) {
	for _, o := range obs {
		o.Observe(res, d)
	}
}

// EMFObserver writes one CloudWatch EMF line per observed verification,
// for processes whose stdout CloudWatch reads (the Lambda functions). It is
// safe for concurrent use: a mutex keeps each line whole whatever the
// writer.
type EMFObserver struct {
	mu  sync.Mutex
	out io.Writer
	log *slog.Logger
	now func() time.Time
}

// NewEMFObserver returns an observer writing to out. A failed write is
// logged on logger (nil discards it) and otherwise ignored: counting a
// verification must never fail it.
func NewEMFObserver(out io.Writer, logger *slog.Logger) *EMFObserver {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &EMFObserver{out: out, log: logger, now: time.Now}
}

// Observe writes the EMF line of one verification that took d.
func (o *EMFObserver) Observe(res engine.Result, d time.Duration) {
	o.mu.Lock()
	err := EMF(o.out, o.now(), res, d)
	o.mu.Unlock()
	if err != nil {
		o.log.Warn("EMF line not written", "err", err)
	}
}

// CompletionLog writes the guide's log line for each observed
// verification: "Verification completed" with email, result, duration_ms
// and backend. The address is logged only with LogEmails; otherwise its
// HashEmail is logged as email_hash, as the worker does.
type CompletionLog struct {
	Logger      *slog.Logger
	LogEmails   bool
	BackendName string // logged when the result names no backend
}

// Observe logs one verification that took d.
func (c CompletionLog) Observe(res engine.Result, d time.Duration) {
	if c.Logger == nil {
		return
	}
	backend := res.Debug.BackendName
	if backend == "" {
		backend = c.BackendName
	}
	email := slog.String("email_hash", HashEmail(res.Input))
	if c.LogEmails {
		email = slog.String("email", res.Input)
	}
	// The API calls Observe after the check, with no context at hand; the
	// line carries everything it needs.
	c.Logger.LogAttrs(context.Background(), slog.LevelInfo, "Verification completed", email,
		slog.String("result", string(verdictOf(res))),
		slog.Int64("duration_ms", d.Milliseconds()),
		slog.String("backend", backend))
}

// HashEmail is the pseudonym of an address in logs: the first 16 hex
// digits of the SHA-256 of its trimmed, lower-cased form. It still lets an
// operator find every line of one address.
func HashEmail(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:8])
}
