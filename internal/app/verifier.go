// Package app wires mailprobe's parts from a validated configuration. It is
// shared by the CLI, the local server and the two Lambda functions, so each
// main stays a few lines long.
package app

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/misc"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/politeness"
)

// NewVerifier builds the engine from the configuration: the resolver, the
// proxy rotation (the [proxy] section first, then MAILPROBE_PROXIES), the
// named proxies of [overrides.proxies], the provider overrides and the
// per-MX politeness limiter (LocalLimiter or SharedLimiter). Each proxy
// keeps the id results report in debug.smtp.verif_method.proxy, as Reacher:
// "default" for [proxy], its id for an [overrides.proxies] entry, url1,
// url2, ... by position for the proxies given as URLs. When ev is non-nil it
// hears of failed proxy dials and of each session's politeness wait
// (metrics).
func NewVerifier(cfg config.Config, limiter engine.Limiter, ev metrics.Events) (*engine.Verifier, error) {
	if config.IsSecretRef(cfg.ProbeSecret.Reveal()) {
		return nil, ErrProbeSecretRef
	}
	res, err := mx.New(mx.Config{Servers: cfg.DNS})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	ec := engine.Config{
		BackendName:    cfg.BackendName,
		Resolver:       res,
		AllowDirect:    cfg.AllowDirect,
		AllowPrivateMX: cfg.AllowPrivateMX,
		GreylistWait:   cfg.GreylistWait,
		DomainBackoff:  cfg.DomainBackoff,
		Defaults: engine.SMTPSettings{
			FromEmail: cfg.FromEmail, HelloName: cfg.HelloName, Port: cfg.SMTPPort,
			Timeout: cfg.SMTPTimeout, Retries: cfg.Retries,
		},
		Limiter: observeLimiter(limiter, ev),
		// Asked only for requests with check_gravatar, as in Reacher.
		Gravatar:                misc.NewGravatar(&http.Client{Timeout: 5 * time.Second}, cfg.GravatarURL),
		MaxRecipientsPerSession: cfg.Worker.RecipientsPerSession,
		SessionsPerDomain:       cfg.Worker.PerMXConcurrency(),
		Overrides:               map[engine.Provider]engine.Override{},
	}
	for i, p := range cfg.ProxyPool {
		if p.SecretRef() != "" {
			return nil, fmt.Errorf("proxy_urls[%d]: %w", i, ErrSecretRef)
		}
	}
	ec.Proxies, ec.NamedProxies = proxies(cfg)
	if ev != nil {
		ec.ProxyFailed = ev.ProxyFailed
	}
	for prov, o := range cfg.Overrides.Providers {
		m, err := engine.ParseMethod(string(o.Type))
		if err != nil {
			return nil, fmt.Errorf("overrides.%s.type: %w", prov, err)
		}
		eo := engine.Override{Method: m, ProxyID: o.Proxy, FromEmail: o.FromEmail, HelloName: o.HelloName}
		// Copies: the engine must not share memory with the config. nil
		// inherits; retries 0 means no retry at all.
		if o.SMTPPort != nil {
			eo.Port = *o.SMTPPort
		}
		if o.SMTPTimeout != nil {
			eo.Timeout = *o.SMTPTimeout
		}
		if o.Retries != nil {
			r := *o.Retries
			eo.Retries = &r
		}
		ec.Overrides[prov] = eo
	}
	if !cfg.ProbeSecret.IsZero() {
		ec.ProbeSecret = []byte(cfg.ProbeSecret.Reveal())
	}
	if !cfg.HIBPKey.IsZero() {
		ec.HIBP = misc.NewHIBP(&http.Client{Timeout: 5 * time.Second}, misc.DefaultHIBPURL, cfg.HIBPKey.Reveal())
	}
	return engine.New(ec)
}

// ErrProbeSecretRef is returned by NewVerifier when probe_secret is still
// an ssm: or secretsmanager: reference: only the Lambda worker resolves
// those (ResolveProbeSecret), and taking the reference text as the secret
// would key every deployment's probes alike.
var ErrProbeSecretRef = errors.New("probe_secret is an ssm: or secretsmanager: reference, which only the AWS Lambda worker resolves; give other modes the secret itself (RCH__PROBE_SECRET or probe_secret), or none")

// RetryPolicy is the delayed retry policy of the configuration ([retry]).
func RetryPolicy(cfg config.Config) retry.Policy {
	p := retry.Policy{Schedule: cfg.Retry.Schedule, Window: cfg.Retry.Window, ConnectionRetries: cfg.Retry.ConnectionRetries}
	if p.ConnectionRetries == 0 {
		p.ConnectionRetries = -1 // the policy's "none"
	}
	return p
}

// proxies returns the rotation (the [proxy] section, id "default", then
// MAILPROBE_PROXIES, ids "url1", "url2", ... by position) and the proxies
// overrides may name ([overrides.proxies] and "default"), with their ids,
// which results report as Reacher does.
func proxies(cfg config.Config) (rotation []dialer.Proxy, named map[string]dialer.Proxy) {
	named = map[string]dialer.Proxy{}
	if cfg.Proxy != nil {
		p := proxyOf(config.DefaultProxyID, *cfg.Proxy)
		rotation = append(rotation, p)
		named[config.DefaultProxyID] = p
	}
	for i, p := range cfg.ProxyPool {
		rotation = append(rotation, proxyOf(fmt.Sprintf("url%d", i+1), p))
	}
	for id, p := range cfg.Overrides.Proxies {
		named[id] = proxyOf(id, p)
	}
	return rotation, named
}

// ProxyIDs lists the ids of every configured proxy, sorted: the proxy
// label values of the proxy failure metrics.
func ProxyIDs(cfg config.Config) []string {
	rotation, named := proxies(cfg)
	ids := slices.Collect(maps.Keys(named))
	for _, p := range rotation {
		if _, ok := named[p.ID]; !ok {
			ids = append(ids, p.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func proxyOf(id string, p config.Proxy) dialer.Proxy {
	return dialer.Proxy{
		ID: id, Host: p.Host, Port: p.Port, Username: p.Username,
		Password: p.Password.Reveal(), Timeout: p.Timeout,
	}
}

// LocalLimiter is the per-MX politeness of one process: at most
// [worker.rabbitmq] concurrency sessions and rcpts_per_minute_per_mx RCPTs
// per minute to each MX host.
func LocalLimiter(cfg config.Config) *politeness.Local {
	return politeness.NewLocal(politeness.LocalConfig{
		SessionsPerHost: cfg.Worker.PerMXConcurrency(),
		RcptsPerMinute:  rcptLimit(cfg),
	})
}

// SharedLimiter is the politeness of many Lambda instances: the RCPT budget
// per MX host and minute lives in a shared counter (DynamoDB), the session
// cap per instance (SQS MaximumConcurrency bounds the instances).
// The clock (nil: the system's) and the window length (0: a minute) are
// for measurements.
func SharedLimiter(cfg config.Config, sched politeness.Scheduler, clock politeness.Clock, window time.Duration) (*politeness.Shared, error) {
	return politeness.NewShared(politeness.SharedConfig{
		Scheduler:       sched,
		SessionsPerHost: cfg.Worker.PerMXConcurrency(),
		RcptsPerMinute:  rcptLimit(cfg),
		Clock:           clock,
		Window:          window,
	})
}

func rcptLimit(cfg config.Config) int {
	if cfg.Worker.RcptsPerMinutePerMX == 0 {
		return politeness.Unlimited
	}
	return cfg.Worker.RcptsPerMinutePerMX
}
