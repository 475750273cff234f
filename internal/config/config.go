// Package config loads mailprobe's configuration: Reacher's backend_config.toml
// keys plus RCH__ environment variables (and a few MAILPROBE_* variables set by
// the SAM template), into one typed, validated Config.
//
// Precedence, lowest first: built-in defaults, the TOML file, RCH__ variables,
// then PORT and MAILPROBE_* variables. Load validates the result once and
// reports every problem together, so a deployment fails fast with a complete
// list instead of one error per attempt.
package config

import "time"

// Provider names a mail provider whose verification can be tuned in an
// [overrides.<provider>] section, as in Reacher.
type Provider string

// The providers Reacher recognises by MX suffix (reacher-compat.md §3).
const (
	Gmail      Provider = "gmail"
	HotmailB2B Provider = "hotmailb2b"
	HotmailB2C Provider = "hotmailb2c"
	Mimecast   Provider = "mimecast"
	Proofpoint Provider = "proofpoint"
	Yahoo      Provider = "yahoo"
)

// Providers lists every Provider accepted in [overrides.<provider>], in a
// stable order.
func Providers() []Provider {
	return []Provider{Gmail, HotmailB2B, HotmailB2C, Mimecast, Proofpoint, Yahoo}
}

// VerifMethod is how addresses of one provider are verified.
type VerifMethod string

// The verification methods an override may select. mailprobe itself only
// performs SMTP probes; "headless" and "api" are accepted so that Reacher
// configurations load, and the engine reports them as not attempted.
const (
	MethodSMTP     VerifMethod = "smtp"
	MethodSkip     VerifMethod = "skip"
	MethodHeadless VerifMethod = "headless"
	MethodAPI      VerifMethod = "api"
)

// DefaultProxyID is the proxy id that refers to the top-level [proxy] section,
// as in Reacher's overrides.
const DefaultProxyID = "default"

// Config is mailprobe's complete, validated configuration.
type Config struct {
	BackendName string        // backend_name, reported in debug.backend_name
	HTTPHost    string        // http_host; default 127.0.0.1
	HTTPPort    int           // http_port (PORT wins); default 8080
	HelloName   string        // hello_name for EHLO; default "localhost"
	FromEmail   string        // from_email for MAIL FROM; default "hello@localhost"
	SMTPTimeout time.Duration // smtp_timeout (file: seconds); default 45s
	SMTPPort    int           // smtp_port; default 25
	Retries     int           // retries; default 1

	// HeaderSecret is the x-reacher-secret value. It may still be an
	// "ssm:" or "secretsmanager:" reference: see IsSecretRef and ResolveSecret.
	HeaderSecret Secret

	Proxy     *Proxy                // [proxy]; nil when absent
	ProxyPool []Proxy               // MAILPROBE_PROXIES (comma-separated socks5:// URLs)
	Proxies   map[string]Proxy      // [overrides.proxies] id = {...}
	Overrides map[Provider]Override // [overrides.<provider>]

	Throttle Throttle // [throttle]
	Worker   Worker   // [worker], [worker.rabbitmq]

	CacheTTL          time.Duration // cache_ttl (seconds); default 24h, 0 disables
	AllowPrivateMX    bool          // allow_private_mx: probe MX hosts on private addresses
	AllowDirect       bool          // allow_direct: probe without a proxy
	AllowRequestProxy bool          // allow_request_proxy: honour "proxy" in requests
	DNS               []string      // dns: resolvers as host:port; empty means the system's
	GreylistWait      time.Duration // greylist_wait (seconds); 0 disables the inline retry
	LogLevel          string        // log_level or MAILPROBE_LOG_LEVEL: debug|info|warn|error
	LogEmails         bool          // log_emails: include addresses in logs
	InlineBudget      time.Duration // inline_budget (seconds); default 25s
	GravatarURL       string        // gravatar_url: asked only for check_gravatar requests
	HIBPKey           Secret        // haveibeenpwned_api_key: fills misc.haveibeenpwned when set

	Storage Storage // [storage] and MAILPROBE_TABLE, MAILPROBE_QUEUE_URL, MAILPROBE_DATA_DIR

	// Warnings lists accepted-but-ignored Reacher settings found while
	// loading. Callers log them once at start-up.
	Warnings []string
}

// Proxy is a SOCKS5 proxy.
type Proxy struct {
	Host     string
	Port     int
	Username string
	Password Secret
	Timeout  time.Duration // timeout_ms; 0 means the SMTP timeout applies
}

// Override tunes the verification of one provider. Zero values inherit the
// top-level setting, except Retries, which is nil when inherited because 0 is
// a meaningful retry count.
type Override struct {
	Type        VerifMethod
	Proxy       string // id in Config.Proxies, or DefaultProxyID
	HelloName   string
	FromEmail   string
	SMTPPort    int
	SMTPTimeout time.Duration
	Retries     *int
}

// Throttle limits accepted verification requests. A zero field is unlimited.
type Throttle struct {
	PerSecond int
	PerMinute int // default 60
	PerHour   int
	PerDay    int // default 10000
}

// Worker configures queue processing.
type Worker struct {
	Enable bool
	// PerMXConcurrency bounds simultaneous SMTP sessions to one MX host. It
	// is read from Reacher's [worker.rabbitmq] concurrency; default 2, a
	// polite figure (Reacher's default of 5 is a consumer count, not a cap
	// per mail server).
	PerMXConcurrency int
	// RcptsPerMinutePerMX bounds the RCPT commands sent to one MX host per
	// minute ([worker] rcpts_per_minute_per_mx); default 60, 0 unlimited.
	RcptsPerMinutePerMX int
	// RecipientsPerSession caps the addresses asked about in one SMTP
	// session ([worker] recipients_per_session); default 50.
	RecipientsPerSession int
	// PerAddress makes the worker open one SMTP session per address, as
	// Reacher does, instead of sharing sessions ([worker] per_address).
	PerAddress bool
	// Concurrency bounds simultaneous verifications in one process
	// ([worker] concurrency); default 10.
	Concurrency int
}

// Storage says where jobs and results live: DynamoDB and SQS in AWS mode,
// DataDir when running locally.
type Storage struct {
	DynamoDBTable string
	SQSQueueURL   string
	DataDir       string
}

// AWS reports whether the AWS back ends (DynamoDB and SQS) are configured.
func (s Storage) AWS() bool { return s.DynamoDBTable != "" && s.SQSQueueURL != "" }

// Default returns the configuration used when nothing is configured.
func Default() Config {
	return Config{
		BackendName:  "mailprobe",
		HTTPHost:     "127.0.0.1",
		HTTPPort:     8080,
		HelloName:    "localhost",
		FromEmail:    "hello@localhost",
		SMTPTimeout:  45 * time.Second,
		SMTPPort:     25,
		Retries:      1,
		Proxies:      map[string]Proxy{},
		Overrides:    map[Provider]Override{},
		Throttle:     Throttle{PerMinute: 60, PerDay: 10000},
		Worker:       Worker{PerMXConcurrency: 2, Concurrency: 10, RcptsPerMinutePerMX: 60, RecipientsPerSession: 50},
		CacheTTL:     24 * time.Hour,
		LogLevel:     "info",
		InlineBudget: 25 * time.Second,
		GravatarURL:  "https://www.gravatar.com",
		Storage:      Storage{DataDir: "data"},
	}
}
