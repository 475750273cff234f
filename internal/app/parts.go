package app

import (
	"io"
	"log/slog"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/throttle"
	"github.com/mailprobe/mailprobe/internal/webhook"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// NewLogger returns the JSON logger every mode uses, at cfg's level.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(worker.NewLogHandler(w, l))
}

// APIConfig maps the configuration to the API handler's settings.
func APIConfig(cfg config.Config, open, local bool) api.Config {
	ac := api.DefaultConfig()
	ac.Secret = cfg.HeaderSecret.Reveal()
	ac.Open = open
	ac.InlineBudget = cfg.InlineBudget
	ac.CacheTTL = cfg.CacheTTL
	ac.Throttle = throttle.Limits{
		PerSecond: cfg.Throttle.PerSecond, PerMinute: cfg.Throttle.PerMinute,
		PerHour: cfg.Throttle.PerHour, PerDay: cfg.Throttle.PerDay,
	}
	ac.AllowRequestProxy = cfg.AllowRequestProxy
	ac.LogEmails = cfg.LogEmails
	ac.ServeMetrics = local
	if !local {
		// A synchronous Lambda payload is at most 6 MB, event included.
		ac.MaxBulkBytes = api.LambdaMaxBulkBytes
	}
	return ac
}

// WorkerConfig maps the configuration to the queue worker's settings. A
// probe needs the SMTP timeout plus a margin for DNS, storage and webhook.
func WorkerConfig(cfg config.Config) worker.Config {
	return worker.Config{
		Concurrency: cfg.Worker.Concurrency,
		PerDomain:   cfg.Worker.PerMXConcurrency(),
		PerAddress:  cfg.Worker.PerAddress,
		Policy:      RetryPolicy(cfg),
		ProbeBudget: cfg.SMTPTimeout + worker.DefaultProbeMargin,
		BackendName: cfg.BackendName,
		LogEmails:   cfg.LogEmails,
		QueueURL:    cfg.Storage.SQSQueueURL,
	}
}

// NewWebhook returns the webhook client; private addresses are refused
// unless MX hosts on private addresses are allowed too (tests).
func NewWebhook(cfg config.Config) *webhook.Client {
	opts := webhook.Options{Timeout: 10 * time.Second, Attempts: 3, UserAgent: "mailprobe"}
	if !cfg.AllowPrivateMX {
		opts.CheckAddr = dialer.CheckAddr
	}
	return webhook.New(opts)
}

// InlineMetrics observes the checks the API answers inline (the worker
// observes the rest): into m (the Prometheus registry in local serve, the
// EMF observer on Lambda, whose stdout CloudWatch turns into metrics), and
// always with the guide's "Verification completed" log line.
func InlineMetrics(cfg config.Config, logger *slog.Logger, m metrics.Observer) metrics.Observers {
	var obs metrics.Observers
	if m != nil {
		obs = append(obs, m)
	}
	return append(obs, metrics.CompletionLog{Logger: logger, LogEmails: cfg.LogEmails, BackendName: cfg.BackendName})
}
