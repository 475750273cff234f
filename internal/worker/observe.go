package worker

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/webhook"
)

// observe counts a final result and logs it with the guide's fields.
func (w *Worker) observe(ctx context.Context, msg queue.Message, it queue.Item, res engine.Result, d time.Duration) {
	w.obs.Observe(res, d)
	w.logVerification(ctx, "Verification completed", msg, it, res, d)
}

// logVerification writes one line per verification. The request is never
// logged: it may carry a proxy password.
func (w *Worker) logVerification(ctx context.Context, text string, msg queue.Message, it queue.Item, res engine.Result, d time.Duration) {
	backend := res.Debug.BackendName
	if backend == "" {
		backend = w.cfg.BackendName
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs, w.emailAttr(it.Email),
		slog.String("result", string(metrics.Verdict(res))),
		slog.Int64("duration_ms", d.Milliseconds()),
		slog.String("backend", backend),
		slog.String("job_id", msg.JobID),
		slog.Int("index", it.Index),
		slog.Int("attempt", msg.Attempt))
	if res.Retry != nil {
		attrs = append(attrs, slog.String("retry_reason", res.Retry.Reason),
			slog.Int64("retry_after_s", int64(res.Retry.After/time.Second)))
	}
	w.deps.Logger.LogAttrs(ctx, slog.LevelInfo, text, attrs...)
}

// emailAttr is the address itself when LogEmails is set, else a short
// hash that still lets an operator grep one address's lines. The hash is
// metrics.HashEmail, so the API's lines and the worker's agree.
func (w *Worker) emailAttr(email string) slog.Attr {
	if w.cfg.LogEmails {
		return slog.String("email", email)
	}
	return slog.String("email_hash", metrics.HashEmail(email))
}

// notify posts a stored result to the job's webhook. A failure is logged
// and counted, never returned: the result is stored and stays stored.
func (w *Worker) notify(ctx context.Context, t webhook.Target, jobID string, index int, result json.RawMessage) {
	if w.deps.Webhook == nil {
		return
	}
	if err := w.deps.Webhook.Post(ctx, t, result); err != nil {
		w.deps.Logger.WarnContext(ctx, "Webhook not delivered", "job_id", jobID, "index", index, "webhook", t, "err", err)
		w.incErrors()
	}
}

func (w *Worker) storeFailed(ctx context.Context, jobID string, it queue.Item, op string, err error) {
	w.deps.Logger.ErrorContext(ctx, "Result store failed; the item will be retried",
		"job_id", jobID, "index", it.Index, "op", op, "err", err)
	w.incErrors()
}

func (w *Worker) incErrors() {
	if w.deps.Metrics != nil {
		w.deps.Metrics.IncErrors()
	}
}

// NewLogHandler returns a slog JSON handler that names the standard keys
// as the guide's log lines do: timestamp, level (lower case), message.
func NewLogHandler(out io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(out, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "timestamp"
			case slog.MessageKey:
				a.Key = "message"
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					a.Value = slog.StringValue(strings.ToLower(l.String()))
				}
			}
			return a
		},
	})
}
