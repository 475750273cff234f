package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// layer is one source of settings (the file, or the environment). A nil
// pointer means "not set here", so layers can be applied in precedence order.
type layer struct {
	BackendName       *string   `toml:"backend_name"`
	HTTPHost          *string   `toml:"http_host"`
	HTTPPort          *int      `toml:"http_port"`
	HelloName         *string   `toml:"hello_name"`
	FromEmail         *string   `toml:"from_email"`
	SMTPTimeout       *int64    `toml:"smtp_timeout"`
	SMTPPort          *int      `toml:"smtp_port"`
	Retries           *int      `toml:"retries"`
	HeaderSecret      *string   `toml:"header_secret"`
	CacheTTL          *int64    `toml:"cache_ttl"`
	AllowPrivateMX    *bool     `toml:"allow_private_mx"`
	AllowDirect       *bool     `toml:"allow_direct"`
	AllowRequestProxy *bool     `toml:"allow_request_proxy"`
	DNS               *[]string `toml:"dns"`
	GreylistWait      *int64    `toml:"greylist_wait"`
	LogLevel          *string   `toml:"log_level"`
	LogEmails         *bool     `toml:"log_emails"`
	InlineBudget      *int64    `toml:"inline_budget"`
	GravatarURL       *string   `toml:"gravatar_url"`
	HIBPKey           *string   `toml:"haveibeenpwned_api_key"`

	Proxy     *layerProxy    `toml:"proxy"`
	Overrides layerOverrides `toml:"overrides"`
	Throttle  layerThrottle  `toml:"throttle"`
	Worker    layerWorker    `toml:"worker"`
	Storage   layerStorage   `toml:"storage"`
}

type layerProxy struct {
	Host      *string `toml:"host"`
	Port      *int    `toml:"port"`
	Username  *string `toml:"username"`
	Password  *string `toml:"password"`
	TimeoutMS *int64  `toml:"timeout_ms"`
}

type layerOverrides struct {
	Proxies    map[string]*layerProxy `toml:"proxies"`
	Gmail      *layerOverride         `toml:"gmail"`
	HotmailB2B *layerOverride         `toml:"hotmailb2b"`
	HotmailB2C *layerOverride         `toml:"hotmailb2c"`
	Mimecast   *layerOverride         `toml:"mimecast"`
	Proofpoint *layerOverride         `toml:"proofpoint"`
	Yahoo      *layerOverride         `toml:"yahoo"`
}

// provider returns the section of p, creating it when create is set.
func (o *layerOverrides) provider(p Provider, create bool) *layerOverride {
	var slot **layerOverride
	switch p {
	case Gmail:
		slot = &o.Gmail
	case HotmailB2B:
		slot = &o.HotmailB2B
	case HotmailB2C:
		slot = &o.HotmailB2C
	case Mimecast:
		slot = &o.Mimecast
	case Proofpoint:
		slot = &o.Proofpoint
	case Yahoo:
		slot = &o.Yahoo
	default:
		return nil
	}
	if *slot == nil && create {
		*slot = &layerOverride{}
	}
	return *slot
}

type layerOverride struct {
	Type        *string `toml:"type"`
	Proxy       *string `toml:"proxy"`
	HelloName   *string `toml:"hello_name"`
	FromEmail   *string `toml:"from_email"`
	SMTPPort    *int    `toml:"smtp_port"`
	SMTPTimeout *int64  `toml:"smtp_timeout"`
	Retries     *int    `toml:"retries"`
}

type layerThrottle struct {
	PerSecond *int `toml:"max_requests_per_second"`
	PerMinute *int `toml:"max_requests_per_minute"`
	PerHour   *int `toml:"max_requests_per_hour"`
	PerDay    *int `toml:"max_requests_per_day"`
}

type layerWorker struct {
	Enable      *bool         `toml:"enable"`
	Concurrency *int          `toml:"concurrency"`
	RcptsPerMin *int          `toml:"rcpts_per_minute_per_mx"`
	PerAddress  *bool         `toml:"per_address"`
	PerSession  *int          `toml:"recipients_per_session"`
	RabbitMQ    layerRabbitMQ `toml:"rabbitmq"`
}

type layerRabbitMQ struct {
	Concurrency *int `toml:"concurrency"`
}

type layerStorage struct {
	DynamoDBTable *string `toml:"dynamodb_table"`
	SQSQueueURL   *string `toml:"sqs_queue_url"`
	DataDir       *string `toml:"data_dir"`
}

// reacherOnlyKeys lists Reacher settings that mailprobe accepts and ignores
// with a warning, so that a Reacher backend_config.toml loads unchanged. A key
// is ignored when it equals an entry or lies below it. Anything else unknown
// is an error, because a silently ignored typo (overrides.gmial) is worse.
func reacherOnlyKeys() []string {
	return []string{
		"webdriver_addr",           // headless verification is not implemented
		"webdriver",                // [webdriver] binary
		"sentry_dsn",               // errors go to CloudWatch / stderr
		"sentry",                   // older [sentry] section
		"commercial_license_trial", // Reacher's hosted trial
		"storage.postgres",         // mailprobe stores in DynamoDB or data_dir
		"storage.0",                // RCH__STORAGE__0__POSTGRES__* form
		"worker.rabbitmq.url",      // SQS replaces RabbitMQ
		"worker.rabbitmq.queue",    // SQS replaces RabbitMQ
		"worker.webhook",           // webhooks come with each bulk request
		"worker.postgres",          // older worker-level storage
		"worker.throttle",          // older location of [throttle]
		"reverification",           // Reacher's scheduled re-verification
		"pipelines",                // Reacher's scheduled pipelines
		"bounce_risk",              // Reacher's bounce-risk enrichment
	}
}

// reacherOnly returns the reacherOnlyKeys entry that the dotted key falls
// under, if any.
func reacherOnly(key string) (root string, ok bool) {
	for _, k := range reacherOnlyKeys() {
		if key == k || strings.HasPrefix(key, k+".") {
			return k, true
		}
	}
	return "", false
}

// ErrUnknownKey is wrapped by errors about keys or RCH__ variables that
// mailprobe does not know.
var ErrUnknownKey = errors.New("unknown key")

// decodeFile parses TOML data into a layer. name prefixes error messages.
// Known Reacher-only keys are returned as warnings; other unknown keys are
// errors.
func decodeFile(name, data string) (*layer, []string, error) {
	var l layer
	md, err := toml.Decode(data, &l)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	undecoded := md.Undecoded()
	keys := make([]string, len(undecoded))
	for i, k := range undecoded {
		keys[i] = k.String()
	}
	var warnings []string
	var errs []error
	seen := map[string]bool{}
	for _, key := range keys {
		if root, ok := reacherOnly(key); ok {
			if !seen[root] {
				seen[root] = true
				warnings = append(warnings, fmt.Sprintf("%s: ignoring Reacher-only key %s", name, root))
			}
			continue
		}
		if hasChild(keys, key) {
			continue // a table: its unknown keys are reported one by one
		}
		errs = append(errs, fmt.Errorf("%s: %w %s", name, ErrUnknownKey, key))
	}
	return &l, warnings, errors.Join(errs...)
}

// hasChild reports whether any of keys lies below key.
func hasChild(keys []string, key string) bool {
	for _, k := range keys {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}
