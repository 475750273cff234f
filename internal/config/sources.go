package config

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// envPrefix starts every Reacher variable; "__" separates levels, as in
// Reacher's use of the config crate (RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE).
const envPrefix = "RCH__"

// Aliases: variables read besides RCH__ ones, applied after them because the
// deployment sets them deliberately. The MAILPROBE_* names are the ones the
// SAM template sets; PORT is the convention of container platforms.
const (
	EnvPort     = "PORT"                    // http_port
	EnvLogLevel = "MAILPROBE_LOG_LEVEL"     // log_level
	EnvTable    = "MAILPROBE_TABLE"         // storage.dynamodb_table
	EnvQueueURL = "MAILPROBE_QUEUE_URL"     // storage.sqs_queue_url
	EnvDataDir  = "MAILPROBE_DATA_DIR"      // storage.data_dir
	EnvProxies  = "MAILPROBE_PROXIES"       // proxy_urls: comma-separated socks5:// URLs
	EnvExports  = "MAILPROBE_EXPORT_BUCKET" // storage.export_bucket
)

// aliases maps each alias variable to the key it sets.
var aliases = [...]struct{ env, key string }{
	{EnvPort, "http_port"},
	{EnvLogLevel, "log_level"},
	{EnvTable, "storage.dynamodb_table"},
	{EnvQueueURL, "storage.sqs_queue_url"},
	{EnvDataDir, "storage.data_dir"},
	{EnvProxies, "proxy_urls"},
	{EnvExports, "storage.export_bucket"},
}

// fileTree parses TOML data; the loader names the file in messages.
func fileTree(name, data string) (tree, error) {
	var m map[string]any
	if _, err := toml.Decode(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return fileNode(m).(tree), nil
}

func fileNode(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return leaf{raw: v}
	}
	t := make(tree, len(m))
	for k, sub := range m {
		t[k] = fileNode(sub)
	}
	return t
}

// envTree reads the RCH__ variables of environ. An empty value counts as
// unset, because deployment tools (SAM parameters left blank) set variables
// to "" rather than leaving them out.
func envTree(environ []string) tree {
	t := tree{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || value == "" {
			continue
		}
		key, _ := EnvKey(name)
		put(t, key, leaf{raw: value, src: name})
	}
	return t
}

// aliasTree reads the alias variables of environ.
func aliasTree(environ []string) tree {
	t := tree{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if value == "" {
			continue
		}
		for _, a := range aliases {
			if a.env == name {
				put(t, a.key, leaf{raw: value, src: name})
			}
		}
	}
	return t
}

// flagTree reads command-line flags given as dotted key → value; the source
// of each is the flag's name.
func flagTree(flags []Flag) tree {
	t := tree{}
	for _, f := range flags {
		put(t, f.Key, leaf{raw: f.Value, src: "--" + f.Name})
	}
	return t
}

// put stores lf at the dotted key, creating the tables on the way. A key
// that is both a value and a table (RCH__PROXY=x and RCH__PROXY__HOST=y)
// keeps the table, whose keys are the ones a setting can have.
func put(t tree, key string, lf leaf) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := t[p].(tree)
		if !ok {
			sub = tree{}
			t[p] = sub
		}
		t = sub
	}
	last := parts[len(parts)-1]
	if _, isTable := t[last].(tree); !isTable {
		t[last] = lf
	}
}

// EnvName returns the RCH__ variable that sets the dotted key:
// "smtp_timeout" → RCH__SMTP_TIMEOUT, "throttle.max_requests_per_day" →
// RCH__THROTTLE__MAX_REQUESTS_PER_DAY. Tools that hand settings to a
// process through its environment (lambda-local) use it instead of a list
// of names.
func EnvName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// EnvKey returns the dotted key the environment variable name sets, for
// an RCH__ variable or an alias (MAILPROBE_PROXIES → proxy_urls), and
// false for any other name. It does not check that the key is known.
func EnvKey(name string) (string, bool) {
	for _, a := range aliases {
		if a.env == name {
			return a.key, true
		}
	}
	if rest, ok := strings.CutPrefix(name, envPrefix); ok && rest != "" {
		return strings.ReplaceAll(strings.ToLower(rest), "__", "."), true
	}
	return "", false
}
