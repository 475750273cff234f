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
	"github.com/mailprobe/mailprobe/engine/dialer"
)

// EMFObserver writes one CloudWatch EMF line per observed verification
// and per event, for processes whose stdout CloudWatch reads (the Lambda
// functions). It implements Observer and Events. It is safe for concurrent
// use: a mutex keeps each line whole whatever the writer.
type EMFObserver struct {
	mu      sync.Mutex
	out     io.Writer
	backend string
	log     *slog.Logger
	now     func() time.Time
}

// NewEMFObserver returns an observer writing to out; backend names the
// events that carry no result of their own. A failed write is logged on
// logger (nil discards it) and otherwise ignored: counting a verification
// must never fail it.
func NewEMFObserver(out io.Writer, backend string, logger *slog.Logger) *EMFObserver {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &EMFObserver{out: out, backend: backend, log: logger, now: time.Now}
}

// Observe writes the EMF line of one verification that took d.
func (o *EMFObserver) Observe(res engine.Result, d time.Duration) {
	if res.Debug.BackendName == "" {
		res.Debug.BackendName = o.backend
	}
	o.write(func(w io.Writer, now time.Time) error { return EMF(w, now, res, d) })
}

// IncErrors writes the EMF line of one failure outside a verification.
func (o *EMFObserver) IncErrors() {
	o.write(func(w io.Writer, now time.Time) error { return emfError(w, now, o.backend) })
}

// ProxyFailed writes an EMF line when the proxy was at fault (see
// ProxyFailureKind).
func (o *EMFObserver) ProxyFailed(p dialer.Proxy, err *dialer.ProxyError) {
	kind, ok := ProxyFailureKind(err)
	if !ok {
		return
	}
	o.write(func(w io.Writer, now time.Time) error { return emfProxyFailure(w, now, o.backend, p.ID, kind) })
}

// PolitenessWaited writes the EMF line of one SMTP session's wait, zero
// included: the sample count is then the number of sessions per MX host.
func (o *EMFObserver) PolitenessWaited(mxHost string, d time.Duration) {
	o.write(func(w io.Writer, now time.Time) error { return emfPolitenessWait(w, now, o.backend, mxHost, d) })
}

func (o *EMFObserver) write(line func(io.Writer, time.Time) error) {
	o.mu.Lock()
	err := line(o.out, o.now())
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
		slog.String("result", string(Verdict(res))),
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
