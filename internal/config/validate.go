package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// ErrInvalid is matched (errors.Is) by every validation error.
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one validation problem with one setting.
type FieldError struct {
	Key     string // dotted TOML key, e.g. "overrides.gmail.proxy"
	Problem string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Key + ": " + e.Problem }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func invalid(key, format string, args ...any) error {
	return &FieldError{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// Validate checks c and returns every problem found, joined.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.HTTPHost == "" {
		add(invalid("http_host", "must not be empty"))
	}
	add(checkPort("http_port", c.HTTPPort))
	add(checkPort("smtp_port", c.SMTPPort))
	add(checkHello("hello_name", c.HelloName))
	add(checkEmail("from_email", c.FromEmail))
	add(checkPositive("smtp_timeout", c.SMTPTimeout))
	add(checkPositive("inline_budget", c.InlineBudget))
	add(checkNonNegative("retries", int64(c.Retries)))
	if c.CacheTTL < 0 {
		add(invalid("cache_ttl", "must be ≥ 0, got %s", c.CacheTTL))
	}
	if c.RetentionDays < 1 || c.RetentionDays > 3650 {
		add(invalid("retention_days", "must be between 1 and 3650, got %d", c.RetentionDays))
	}
	if c.GravatarURL != "" && !strings.HasPrefix(c.GravatarURL, "https://") && !strings.HasPrefix(c.GravatarURL, "http://") {
		add(invalid("gravatar_url", "must be an http(s) URL, got %q", c.GravatarURL))
	}
	if c.GreylistWait < 0 {
		add(invalid("greylist_wait", "must be ≥ 0, got %s", c.GreylistWait))
	}
	add(checkSecretRef("header_secret", c.HeaderSecret.Reveal()))
	for i, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, " \t\r\n/:@[]") {
			add(invalid(fmt.Sprintf("allowed_hosts[%d]", i), "must be a host name without port, got %q", h))
		}
	}
	add(checkLogLevel(c.LogLevel))
	for i, addr := range c.DNS {
		add(checkHostPort(fmt.Sprintf("dns[%d]", i), addr))
	}
	if c.Proxy != nil {
		errs = append(errs, checkProxy("proxy", *c.Proxy)...)
	}
	for i, p := range c.ProxyPool {
		key := fmt.Sprintf("proxy_urls[%d]", i)
		if p.ref != "" {
			add(checkSecretRef(key, p.ref))
			continue
		}
		errs = append(errs, checkProxy(key, p)...)
	}
	for _, id := range sortedKeys(c.Overrides.Proxies) {
		errs = append(errs, checkProxy("overrides.proxies."+id, c.Overrides.Proxies[id])...)
	}
	errs = append(errs, c.checkOverrides()...)
	errs = append(errs, c.checkRetry()...)
	errs = append(errs, c.checkThrottleAndWorker()...)
	if (c.Storage.DynamoDBTable == "") != (c.Storage.SQSQueueURL == "") {
		add(invalid("storage", "dynamodb_table and sqs_queue_url must be set together"))
	}
	return errors.Join(errs...)
}

func (c Config) checkOverrides() []error {
	var errs []error
	for _, p := range engine.Providers() {
		o, ok := c.Overrides.Providers[p]
		if !ok {
			continue
		}
		key := func(field string) string { return "overrides." + string(p) + "." + field }
		if _, err := engine.ParseMethod(string(o.Type)); err != nil || o.Type == "" {
			errs = append(errs, invalid(key("type"), "must be one of smtp, skip, headless, api, got %q", o.Type))
		}
		if o.Proxy != "" && !c.hasProxy(o.Proxy) {
			errs = append(errs, invalid(key("proxy"),
				"no proxy %q in [overrides.proxies] (or [proxy] for %q)", o.Proxy, DefaultProxyID))
		}
		if o.HelloName != "" {
			errs = appendErr(errs, checkHello(key("hello_name"), o.HelloName))
		}
		if o.FromEmail != "" {
			errs = appendErr(errs, checkEmail(key("from_email"), o.FromEmail))
		}
		if o.SMTPPort != nil {
			errs = appendErr(errs, checkPort(key("smtp_port"), *o.SMTPPort))
		}
		if o.SMTPTimeout != nil {
			errs = appendErr(errs, checkPositive(key("smtp_timeout"), *o.SMTPTimeout))
		}
		if o.Retries != nil {
			errs = appendErr(errs, checkNonNegative(key("retries"), int64(*o.Retries)))
		}
	}
	return errs
}

func (c Config) hasProxy(id string) bool {
	if id == DefaultProxyID && c.Proxy != nil {
		return true
	}
	_, ok := c.Overrides.Proxies[id]
	return ok
}

func (c Config) checkThrottleAndWorker() []error {
	var errs []error
	for _, t := range []struct {
		key string
		v   int
	}{
		{"throttle.max_requests_per_second", c.Throttle.PerSecond},
		{"throttle.max_requests_per_minute", c.Throttle.PerMinute},
		{"throttle.max_requests_per_hour", c.Throttle.PerHour},
		{"throttle.max_requests_per_day", c.Throttle.PerDay},
	} {
		errs = appendErr(errs, checkNonNegative(t.key, int64(t.v)))
	}
	if c.Worker.Concurrency < 1 {
		errs = append(errs, invalid("worker.concurrency", "must be ≥ 1, got %d", c.Worker.Concurrency))
	}
	if c.Worker.PerMXConcurrency() < 1 {
		errs = append(errs, invalid("worker.rabbitmq.concurrency", "must be ≥ 1, got %d", c.Worker.PerMXConcurrency()))
	}
	if c.Worker.RcptsPerMinutePerMX < 0 {
		errs = append(errs, invalid("worker.rcpts_per_minute_per_mx", "must be ≥ 0, got %d", c.Worker.RcptsPerMinutePerMX))
	}
	if c.Worker.RecipientsPerSession < 1 || c.Worker.RecipientsPerSession > 1000 {
		errs = append(errs, invalid("worker.recipients_per_session", "must be between 1 and 1000, got %d", c.Worker.RecipientsPerSession))
	}
	return errs
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

func checkProxy(key string, p Proxy) []error {
	var errs []error
	if p.Host == "" {
		errs = append(errs, invalid(key+".host", "must not be empty"))
	}
	errs = appendErr(errs, checkPort(key+".port", p.Port))
	if p.Timeout < 0 {
		errs = append(errs, invalid(key+".timeout_ms", "must be ≥ 0, got %d", p.Timeout.Milliseconds()))
	}
	return errs
}

func checkPort(key string, port int) error {
	if port < 1 || port > 65535 {
		return invalid(key, "must be 1-65535, got %d", port)
	}
	return nil
}

func checkPositive(key string, d time.Duration) error {
	if d <= 0 {
		return invalid(key, "must be > 0, got %s", d)
	}
	return nil
}

func checkNonNegative(key string, v int64) error {
	if v < 0 {
		return invalid(key, "must be ≥ 0, got %d", v)
	}
	return nil
}

// checkHello refuses names that would break the EHLO command line: RFC 5321
// §4.1.1.1 makes the argument one domain or address literal, and CR or LF
// would let a value inject extra SMTP commands.
func checkHello(key, name string) error {
	if name == "" {
		return invalid(key, "must not be empty")
	}
	if err := engine.CheckHelloName(name); err != nil {
		return invalid(key, "must be one word of printable ASCII (no spaces, line breaks or other characters), got %q", name)
	}
	return nil
}

// checkEmail accepts what can follow MAIL FROM: (RFC 5321 §4.1.2 Mailbox):
// a non-empty local part and domain around one "@", with no spaces, angle
// brackets or line breaks that would escape the reverse-path.
func checkEmail(key, addr string) error {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") ||
		strings.ContainsAny(addr, " \t\r\n<>") {
		return invalid(key, "must be an email address like hello@example.com, got %q", addr)
	}
	return nil
}

func checkHostPort(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return invalid(key, "must be host:port, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return invalid(key, "port must be 1-65535, got %q", port)
	}
	return nil
}

func checkLogLevel(level string) error {
	switch level {
	case "debug", "info", "warn", "error":
		return nil
	}
	return invalid("log_level", "must be debug, info, warn or error, got %q", level)
}
