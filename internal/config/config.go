// Package config loads mailprobe's configuration: Reacher's backend_config.toml
// keys plus RCH__ environment variables (and a few aliases set by the SAM
// template or container platforms), into one typed, validated Config.
//
// Every setting is declared once: as a field of Config (or of a section
// type below) with its TOML key in the `toml` tag. The file keys, the RCH__
// variable names (RCH__ + the dotted key in upper case with "__" between
// levels), the command-line flags and the unknown-key suggestions are all
// derived from these declarations by one loader (tree.go). Adding a setting
// means adding a field, its default in Default and its check in Validate.
//
// Precedence, lowest first: Default, the TOML file, RCH__ variables, the
// aliases (PORT, MAILPROBE_*), then command-line flags. Load validates the
// result once and reports every problem together.
//
// Durations are time.Duration fields with a `unit` tag ("s" or "ms"): a plain
// number is a count of that unit (Reacher's form), a string may carry its own
// unit ("90s", "5m"), and a {secs, nanos} table is Reacher's Duration form.
package config

import (
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// VerifMethod is how addresses of one provider are verified: "smtp",
// "skip", "headless" or "api" (engine.ParseMethod is the one grammar).
// mailprobe itself performs only SMTP probes; "headless" and "api" are
// accepted so that Reacher configurations load, and the engine reports them
// as not attempted.
type VerifMethod string

// MethodSMTP is the method of an override section that names none.
const MethodSMTP VerifMethod = "smtp"

// DefaultProxyID is the proxy id that refers to the top-level [proxy] section,
// as in Reacher's overrides.
const DefaultProxyID = "default"

// Config is mailprobe's complete configuration. The toml tags are the keys of
// backend_config.toml and, through the loader, of the RCH__ variables.
type Config struct {
	BackendName string        `toml:"backend_name"` // debug.backend_name and the metrics label
	HTTPHost    string        `toml:"http_host"`    // mailprobe serve's address
	HTTPPort    int           `toml:"http_port"`    // mailprobe serve's port (PORT wins)
	HelloName   string        `toml:"hello_name"`   // EHLO name
	FromEmail   string        `toml:"from_email"`   // MAIL FROM address
	SMTPTimeout time.Duration `toml:"smtp_timeout" unit:"s"`
	SMTPPort    int           `toml:"smtp_port"`
	Retries     int           `toml:"retries"`

	// HeaderSecret is the x-reacher-secret value. It may still be an
	// "ssm:" or "secretsmanager:" reference: see IsSecretRef and ResolveSecret.
	HeaderSecret Secret `toml:"header_secret"`

	Proxy     *Proxy    `toml:"proxy"`      // [proxy]; nil when absent
	ProxyPool ProxyList `toml:"proxy_urls"` // more proxies as socks5:// URLs, or a reference to them (MAILPROBE_PROXIES)
	Overrides Overrides `toml:"overrides"`  // [overrides.proxies] and [overrides.<provider>]

	Throttle Throttle `toml:"throttle"` // [throttle]
	Worker   Worker   `toml:"worker"`   // [worker], [worker.rabbitmq]

	CacheTTL       time.Duration `toml:"cache_ttl" unit:"s"`     // result cache; 0 (the default) disables
	RetentionDays  int           `toml:"retention_days"`         // jobs and results are deleted after this
	AllowPrivateMX bool          `toml:"allow_private_mx"`       // probe MX hosts on private addresses
	AllowDirect    bool          `toml:"allow_direct"`           // probe without a proxy
	DNS            []string      `toml:"dns"`                    // resolvers as host:port; empty: the system's
	GreylistWait   time.Duration `toml:"greylist_wait" unit:"s"` // 0 disables the inline retry
	// DomainBackoff is how long an MX host that deferred a whole domain
	// (421, 452 4.5.3, a 4xx to MAIL FROM) is left alone before the one
	// more session, when its reply names no wait.
	DomainBackoff time.Duration `toml:"domain_backoff" unit:"s"`
	// ProbeSecret keys the catch-all probe address of a job (an HMAC of
	// the job and the domain). Every process of a deployment needs the
	// same one; empty draws one per process (fine for one process, such
	// as mailprobe check or serve). May be an ssm: or secretsmanager:
	// reference, resolved by the Lambda worker.
	ProbeSecret Secret `toml:"probe_secret"`
	// Retry is the delayed retry policy ([retry]).
	Retry        Retry         `toml:"retry"`
	LogLevel     string        `toml:"log_level"`              // debug|info|warn|error
	LogEmails    bool          `toml:"log_emails"`             // include addresses in logs
	InlineBudget time.Duration `toml:"inline_budget" unit:"s"` // longest a check runs before its result so far is answered
	GravatarURL  string        `toml:"gravatar_url"`           // asked only for check_gravatar requests
	HIBPKey      Secret        `toml:"haveibeenpwned_api_key"` // fills misc.haveibeenpwned when set

	// AllowPrivateWebhooks lets bulk webhooks reach loopback, private and
	// link-local addresses (169.254.169.254, internal services). Off by
	// default, and apart from allow_private_mx: a test setup that probes
	// private MX hosts must not open the webhooks too.
	AllowPrivateWebhooks bool `toml:"allow_private_webhooks"`
	// AllowOpenNetwork lets mailprobe serve run without a secret on a
	// non-loopback address, reachable by anyone on the network.
	AllowOpenNetwork bool `toml:"allow_open_network"`
	// AllowedHosts are the host names a server without a secret answers
	// to, besides IP addresses and localhost (DNS rebinding protection).
	AllowedHosts []string `toml:"allowed_hosts"`

	// StrictConfig makes unknown keys and variables fatal instead of
	// warnings (Reacher ignores them silently).
	StrictConfig bool `toml:"strict_config"`

	Storage Storage `toml:"storage"` // [storage]

	// Warnings lists what loading noticed but accepted: unknown keys (with
	// the closest known one), Reacher-only settings. Callers log them once
	// at start-up.
	Warnings []string `toml:"-"`
}

// Proxy is a SOCKS5 proxy.
type Proxy struct {
	Host     string        `toml:"host"`
	Port     int           `toml:"port"`
	Username string        `toml:"username"`
	Password Secret        `toml:"password"`
	Timeout  time.Duration `toml:"timeout_ms" unit:"ms"` // 0: the SMTP timeout applies

	// ref is set instead of the fields above for a proxy_urls entry that
	// is an ssm: or secretsmanager: reference: ResolveSecrets replaces the
	// entry by the URLs the parameter or secret holds.
	ref string
}

// SecretRef returns the reference a proxy_urls entry still holds, or "".
func (p Proxy) SecretRef() string { return p.ref }

// defaultProxyPort is used when a proxy section leaves out the port: it is
// the SOCKS port registered with IANA (RFC 1928 §3).
const defaultProxyPort = 1080

// setDefaults is called by the loader when a proxy section first appears.
func (p *Proxy) setDefaults() { p.Port = defaultProxyPort }

// Overrides is Reacher's [overrides] table: named proxies, and one section
// per provider (the providers are engine.Providers; the loader warns about
// any other name).
type Overrides struct {
	Proxies   map[string]Proxy                 `toml:"proxies"`
	Providers map[engine.Provider]ProviderRule `toml:",rest"`
}

// ProviderRule tunes the verification of one provider. Unset fields (nil,
// or "") inherit the top-level setting; Retries 0 means no retry.
type ProviderRule struct {
	Type        VerifMethod    `toml:"type"`
	Proxy       string         `toml:"proxy"` // id in Overrides.Proxies, or DefaultProxyID
	HelloName   string         `toml:"hello_name"`
	FromEmail   string         `toml:"from_email"`
	SMTPPort    *int           `toml:"smtp_port"`
	SMTPTimeout *time.Duration `toml:"smtp_timeout" unit:"s"`
	Retries     *int           `toml:"retries"`
}

// setDefaults is called by the loader when a provider section first
// appears: Reacher requires type, mailprobe assumes SMTP, its only real
// method.
func (r *ProviderRule) setDefaults() { r.Type = MethodSMTP }

// Throttle limits accepted verification requests. A zero field is unlimited,
// and all are zero by default, as in Reacher (the production checklist in
// README.md recommends 60 per minute and 10 000 per day).
type Throttle struct {
	PerSecond int `toml:"max_requests_per_second"`
	PerMinute int `toml:"max_requests_per_minute"`
	PerHour   int `toml:"max_requests_per_hour"`
	PerDay    int `toml:"max_requests_per_day"`
}

// Worker configures queue processing.
type Worker struct {
	// Enable is Reacher's switch; accepted with a warning, since mailprobe
	// serve always runs its worker and on Lambda the queue triggers it.
	Enable bool `toml:"enable"`
	// Concurrency bounds simultaneous verifications in one process.
	Concurrency int `toml:"concurrency"`
	// RcptsPerMinutePerMX bounds the RCPT commands sent to one MX host per
	// minute; 0 is unlimited.
	RcptsPerMinutePerMX int `toml:"rcpts_per_minute_per_mx"`
	// RecipientsPerSession caps the addresses asked about in one SMTP session.
	RecipientsPerSession int `toml:"recipients_per_session"`
	// PerAddress opens one SMTP session per address, as Reacher does,
	// instead of sharing sessions.
	PerAddress bool `toml:"per_address"`
	// RabbitMQ is Reacher's [worker.rabbitmq]; only concurrency is used.
	RabbitMQ RabbitMQ `toml:"rabbitmq"`
}

// RabbitMQ is Reacher's [worker.rabbitmq] section.
type RabbitMQ struct {
	// Concurrency bounds simultaneous SMTP sessions to one MX host: a
	// polite figure (Reacher's default of 5 is a consumer count, not a cap
	// per mail server).
	Concurrency int `toml:"concurrency"`
}

// PerMXConcurrency bounds simultaneous SMTP sessions to one MX host.
func (w Worker) PerMXConcurrency() int { return w.RabbitMQ.Concurrency }

// Storage says where jobs and results live: DynamoDB and SQS in AWS mode,
// DataDir when running locally.
type Storage struct {
	DynamoDBTable string `toml:"dynamodb_table"` // MAILPROBE_TABLE
	SQSQueueURL   string `toml:"sqs_queue_url"`  // MAILPROBE_QUEUE_URL
	DataDir       string `toml:"data_dir"`       // MAILPROBE_DATA_DIR
	// ExportBucket is the S3 bucket of full result exports on Lambda
	// (MAILPROBE_EXPORT_BUCKET); mailprobe serve streams instead.
	ExportBucket string `toml:"export_bucket"`
}

// Retention is how long jobs and results are kept.
func (c Config) Retention() time.Duration { return time.Duration(c.RetentionDays) * 24 * time.Hour }

// AWS reports whether the AWS back ends (DynamoDB and SQS) are configured.
func (s Storage) AWS() bool { return s.DynamoDBTable != "" && s.SQSQueueURL != "" }

// Default returns the configuration used when nothing is configured.
func Default() Config {
	return Config{
		BackendName: "mailprobe",
		HTTPHost:    "127.0.0.1",
		HTTPPort:    8080,
		HelloName:   "localhost",
		FromEmail:   "hello@localhost",
		SMTPTimeout: 45 * time.Second,
		SMTPPort:    25,
		Retries:     1,
		Overrides: Overrides{
			Proxies:   map[string]Proxy{},
			Providers: map[engine.Provider]ProviderRule{},
		},
		Worker: Worker{
			Concurrency: 10, RcptsPerMinutePerMX: 60, RecipientsPerSession: 50,
			RabbitMQ: RabbitMQ{Concurrency: 2},
		},
		RetentionDays: 30,
		LogLevel:      "info",
		InlineBudget:  25 * time.Second,
		GravatarURL:   "https://www.gravatar.com",
		DomainBackoff: time.Minute,
		Retry: Retry{
			Schedule: Durations{time.Minute, 5 * time.Minute, 15 * time.Minute},
			Window:   30 * time.Minute, ConnectionRetries: 1,
		},
		Storage: Storage{DataDir: "data"},
	}
}
