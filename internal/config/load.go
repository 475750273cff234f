package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
)

// Options says where the settings come from, besides the defaults.
type Options struct {
	File    string   // backend_config.toml; "" for none
	Environ []string // as returned by os.Environ: RCH__ variables and aliases
	Flags   []Flag   // command-line flags that were given, applied last
	// Strict makes unknown keys fatal, like strict_config = true.
	Strict bool
}

// Flag is a command-line flag that sets the setting at Key.
type Flag struct {
	Name  string // the flag's name without dashes, for messages
	Key   string // the dotted key it sets, e.g. "smtp_timeout"
	Value string // as typed; durations may carry a unit ("5s")
}

// Load builds the configuration from defaults and the sources of o, then
// validates it. Every problem found is reported in one joined error;
// validation problems match errors.Is(err, ErrInvalid), unknown keys (with
// strict_config) ErrUnknownKey. Unknown keys are otherwise warnings in
// Config.Warnings, each naming the closest known key. Load does no network
// I/O: call ResolveSecrets afterwards when a secret may be a reference.
func Load(o Options) (Config, error) {
	c := Default()
	l := newLoader()
	v := reflect.ValueOf(&c).Elem()
	if o.File != "" {
		data, err := os.ReadFile(o.File)
		if err != nil {
			return Config{}, fmt.Errorf("load config: %w", err)
		}
		t, err := fileTree(o.File, string(data))
		if err != nil {
			return Config{}, fmt.Errorf("load config: %w", err)
		}
		l.layer = o.File
		l.apply(v, t, "")
	}
	l.layer = "environment"
	l.apply(v, envTree(o.Environ), "")
	l.apply(v, aliasTree(o.Environ), "")
	l.apply(v, flagTree(o.Flags), "")

	// Log levels are case-insensitive (MAILPROBE_LOG_LEVEL=WARN).
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	c.Warnings = l.warnings
	if src, ok := l.set["worker.enable"]; ok {
		c.Warnings = append(c.Warnings, workerEnableWarning(src))
	}
	errs := l.errs
	for _, u := range l.unknown {
		if o.Strict || c.StrictConfig {
			errs = append(errs, fmt.Errorf("%w (strict_config)", u))
			continue
		}
		c.Warnings = append(c.Warnings, u.Error()+"; ignored")
	}
	// Validate even after parse errors, so that one run lists every
	// problem; a setting that failed to parse keeps its previous value.
	errs = append(errs, c.Validate())
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	return c, nil
}

// workerEnableWarning is the warning for Reacher's [worker] enable, read
// from source. It is accepted so that a Reacher configuration loads, but
// mailprobe has no worker to switch off: `mailprobe serve` always runs its
// embedded one, and on Lambda the queue triggers it.
func workerEnableWarning(source string) string {
	return source + ": worker.enable has no effect (accepted for Reacher compatibility): " +
		"mailprobe serve always runs its queue worker, and on Lambda the queue triggers it"
}
