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

// APIConfig maps the configuration to the API handler's settings. local
// is `mailprobe serve`; otherwise the handler runs on Lambda behind API
// Gateway, which buffers and caps responses (6 MB) and fixes the Host.
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
	ac.LogEmails = cfg.LogEmails
	ac.ServeMetrics = local
	ac.AllowedHosts = cfg.AllowedHosts
	if !local {
		// A synchronous Lambda payload is at most 6 MB, event included.
		ac.MaxBulkBytes = api.LambdaMaxBulkBytes
		ac.BufferedResponses = true
		// API Gateway answers only for its own host names: no DNS
		// rebinding reaches the function.
		ac.AnyHost = true
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
	}
}

// NewWebhook returns the webhook client. Private, loopback and link-local
// addresses are refused unless allow_private_webhooks is set: a webhook URL
// comes from an API client, and allowing private MX hosts (tests, private
// networks) must not let it reach 169.254.169.254 or internal services.
func NewWebhook(cfg config.Config) *webhook.Client {
	opts := webhook.Options{Timeout: 10 * time.Second, Attempts: 3, UserAgent: "mailprobe"}
	if !cfg.AllowPrivateWebhooks {
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
