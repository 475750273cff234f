package config

import (
	"reflect"
	"strings"

	"github.com/mailprobe/mailprobe/engine"
)

// reacherOnlyKeys lists Reacher settings that mailprobe accepts and ignores
// with a warning, so that a Reacher backend_config.toml loads unchanged. A key
// is ignored when it equals an entry or lies below it.
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

// KnownKeys lists every settable key of backend_config.toml, derived from
// Config's declarations. Map keys appear as "<id>"; provider sections appear
// once per engine.Providers entry.
func KnownKeys() []string {
	var out []string
	walkKeys(reflect.TypeFor[Config](), "", &out)
	return out
}

func walkKeys(t reflect.Type, prefix string, out *[]string) {
	if isLeaf(t) {
		*out = append(*out, prefix)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		walkKeys(t.Elem(), prefix, out)
	case reflect.Map:
		if t.Key() == providerType {
			for _, p := range engine.Providers() {
				walkKeys(t.Elem(), joinKey(prefix, string(p)), out)
			}
			return
		}
		walkKeys(t.Elem(), joinKey(prefix, "<id>"), out)
	case reflect.Struct:
		for i := range t.NumField() {
			switch name := tomlName(t.Field(i)); name {
			case "-":
			case ",rest":
				walkKeys(t.Field(i).Type, prefix, out)
			default:
				walkKeys(t.Field(i).Type, joinKey(prefix, name), out)
			}
		}
	}
}

// closestKey returns the known key nearest to key, when one is close enough
// to be a likely typo: "overrides.gmial.type" → "overrides.gmail.type".
// Map ids match any word ("overrides.proxies.p1.hots" → ...p1.host).
func closestKey(key string) string {
	parts := strings.Split(key, ".")
	best, bestDist := "", 0
	for _, known := range KnownKeys() {
		kp := strings.Split(known, ".")
		if len(kp) < len(parts) {
			continue
		}
		// Compare with the known key cut to the same depth: an unknown
		// table ("overrides.gmial") is matched against "overrides.gmail".
		kp = kp[:len(parts)]
		d := 0
		for i := range parts {
			if kp[i] == "<id>" {
				kp[i] = parts[i]
				continue
			}
			if kp[i] == parts[i] {
				continue
			}
			if strings.HasPrefix(kp[i], parts[i]) {
				d++ // a truncated name: "hotmail" for "hotmailb2b"
				continue
			}
			d += editDistance(parts[i], kp[i])
		}
		cand := strings.Join(kp, ".")
		if cand == key {
			continue
		}
		if best == "" || d < bestDist {
			best, bestDist = cand, d
		}
	}
	if best == "" || bestDist > max(2, len(key)/4) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b. Ten lines of dynamic
// programming are simpler than a dependency for one caller.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
