package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Retry is mailprobe's delayed retry policy ([retry]), used by `mailprobe
// check`, `mailprobe serve` and the Lambda worker alike (engine/retry). It
// is not Reacher's retries, which counts connections within one check.
type Retry struct {
	// Schedule is the wait after the first, second, ... temporary answer
	// (greylisting, rate limits) when the server names none; the last one
	// repeats.
	Schedule Durations `toml:"schedule"`
	// Window starts at an address's first temporary answer; once a retry
	// would fall after it, the last answer is final (unknown, with its
	// error). Time spent waiting for the per-MX politeness budget does
	// not count.
	Window time.Duration `toml:"window" unit:"s"`
	// ConnectionRetries is how many checks ending in a connection failure
	// or timeout are followed by another at once (through another proxy
	// when several are configured); 0 none.
	ConnectionRetries int `toml:"connection_retries"`
}

// Durations is a list of durations: a TOML list of numbers of seconds or
// strings with a unit, or one comma-separated string ("60,300,900",
// "1m,5m,15m").
type Durations []time.Duration

func (d *Durations) parseSetting(raw any) error {
	var items []any
	switch x := raw.(type) {
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	case []any:
		items = x
	default:
		items = []any{x}
	}
	out := make(Durations, 0, len(items))
	var errs []error
	for i, it := range items {
		v, err := parseDuration(leaf{raw: it}, "s")
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i+1, err))
			continue
		}
		out = append(out, v)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	*d = out
	return nil
}

// checkRetry validates [retry], domain_backoff and probe_secret.
func (c Config) checkRetry() []error {
	var errs []error
	if len(c.Retry.Schedule) == 0 {
		errs = append(errs, invalid("retry.schedule", "must list at least one wait"))
	}
	for i, d := range c.Retry.Schedule {
		if d <= 0 {
			errs = append(errs, invalid("retry.schedule", "entry %d must be > 0, got %s", i+1, d))
		}
	}
	errs = appendErr(errs, checkPositive("retry.window", c.Retry.Window))
	errs = appendErr(errs, checkNonNegative("retry.connection_retries", int64(c.Retry.ConnectionRetries)))
	errs = appendErr(errs, checkPositive("domain_backoff", c.DomainBackoff))
	errs = appendErr(errs, checkSecretRef("probe_secret", c.ProbeSecret.Reveal()))
	return errs
}
