package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Variables read besides RCH__ ones. The MAILPROBE_* names are the ones the
// SAM template sets; PORT is the convention of container platforms.
const (
	EnvPort     = "PORT"                // overrides http_port
	EnvLogLevel = "MAILPROBE_LOG_LEVEL" // overrides log_level
	EnvTable    = "MAILPROBE_TABLE"     // overrides storage.dynamodb_table
	EnvQueueURL = "MAILPROBE_QUEUE_URL" // overrides storage.sqs_queue_url
	EnvDataDir  = "MAILPROBE_DATA_DIR"  // overrides storage.data_dir
	EnvProxies  = "MAILPROBE_PROXIES"   // comma-separated socks5:// URLs → ProxyPool
)

// Load builds the configuration from defaults, the TOML file at path (none
// when path is ""), and environ (as returned by os.Environ), then validates
// it. Every problem found is reported in one joined error; problems in
// validation match errors.Is(err, ErrInvalid). Load does no network I/O: call
// ResolveSecrets afterwards when header_secret may be a reference.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("load config: %w", err)
		}
		file, warnings, err := decodeFile(path, string(data))
		if file == nil {
			return Config{}, fmt.Errorf("load config: %w", err)
		}
		errs = append(errs, err)
		c.Warnings = append(c.Warnings, warnings...)
		if file.Worker.Enable != nil {
			c.Warnings = append(c.Warnings, workerEnableWarning(path))
		}
		errs = append(errs, file.apply(&c)...)
	}
	env, warnings, err := decodeEnv(environ)
	errs = append(errs, err)
	c.Warnings = append(c.Warnings, warnings...)
	if env.Worker.Enable != nil {
		c.Warnings = append(c.Warnings, workerEnableWarning(envPrefix+"WORKER__ENABLE"))
	}
	errs = append(errs, env.apply(&c)...)
	errs = append(errs, applyMailprobeEnv(&c, environ))
	// Validate even after parse errors, so that one run lists every
	// problem; a setting that failed to parse keeps its previous value.
	errs = append(errs, c.Validate())
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	return c, nil
}

// applyMailprobeEnv applies PORT and the MAILPROBE_* variables, which win
// over RCH__ ones because the deployment sets them deliberately.
func applyMailprobeEnv(c *Config, environ []string) error {
	var errs []error
	for _, kv := range environ {
		name, v, _ := strings.Cut(kv, "=")
		if v == "" {
			continue
		}
		switch name {
		case EnvPort:
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w: %q", name, ErrNotANumber, v))
				continue
			}
			c.HTTPPort = n
		case EnvLogLevel:
			c.LogLevel = strings.ToLower(strings.TrimSpace(v))
		case EnvTable:
			c.Storage.DynamoDBTable = v
		case EnvQueueURL:
			c.Storage.SQSQueueURL = v
		case EnvDataDir:
			c.Storage.DataDir = v
		case EnvProxies:
			pool, err := ParseProxyURLs(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				continue
			}
			c.ProxyPool = pool
		}
	}
	return errors.Join(errs...)
}

// workerEnableWarning is the warning for Reacher's [worker] enable, read
// from source. It is accepted so that a Reacher configuration loads, but
// mailprobe has no worker to switch off: `mailprobe serve` always runs its
// embedded one, and on Lambda the queue triggers the worker function.
func workerEnableWarning(source string) string {
	return source + ": worker.enable has no effect (accepted for Reacher compatibility): " +
		"mailprobe serve always runs its queue worker, and on Lambda the queue triggers it"
}
