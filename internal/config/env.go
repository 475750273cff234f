package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// envPrefix starts every Reacher variable; "__" separates levels, as in
// Reacher's use of the config crate (RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE).
const envPrefix = "RCH__"

// Errors wrapped when a variable's value cannot be parsed. The messages
// name the variable, e.g. `RCH__HTTP_PORT: not a number: "abc"`.
var (
	ErrNotANumber = errors.New("not a number")
	ErrNotABool   = errors.New("not a boolean")
)

// decodeEnv reads the RCH__ variables of environ into a layer. An empty value
// counts as unset, because deployment tools (SAM parameters left blank) set
// variables to "" rather than leaving them out.
func decodeEnv(environ []string) (*layer, []string, error) {
	var l layer
	var warnings []string
	var errs []error
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || value == "" {
			continue
		}
		parts := strings.Split(strings.ToLower(strings.TrimPrefix(name, envPrefix)), "__")
		key := strings.Join(parts, ".")
		if _, ok := reacherOnly(key); ok {
			warnings = append(warnings, fmt.Sprintf("%s: ignoring Reacher-only setting %s", name, key))
			continue
		}
		if err := setEnv(&l, parts, name, value); err != nil {
			errs = append(errs, err)
		}
	}
	return &l, warnings, errors.Join(errs...)
}

// setEnv stores value, read from variable name, at the key path parts.
func setEnv(l *layer, parts []string, name, v string) error {
	n := len(parts)
	switch {
	case n == 1:
		return setTop(l, parts[0], name, v)
	case n == 2 && parts[0] == "proxy":
		if l.Proxy == nil {
			l.Proxy = &layerProxy{}
		}
		return setProxy(l.Proxy, parts[1], name, v)
	case n == 4 && parts[0] == "overrides" && parts[1] == "proxies":
		if l.Overrides.Proxies == nil {
			l.Overrides.Proxies = map[string]*layerProxy{}
		}
		p := l.Overrides.Proxies[parts[2]]
		if p == nil {
			p = &layerProxy{}
			l.Overrides.Proxies[parts[2]] = p
		}
		return setProxy(p, parts[3], name, v)
	case n == 3 && parts[0] == "overrides":
		if o := l.Overrides.provider(Provider(parts[1]), true); o != nil {
			return setOverride(o, parts[2], name, v)
		}
	case n == 2 && parts[0] == "throttle":
		return setThrottle(&l.Throttle, parts[1], name, v)
	case n == 2 && parts[0] == "worker" && parts[1] == "enable":
		return setBool(&l.Worker.Enable, name, v)
	case n == 2 && parts[0] == "worker" && parts[1] == "concurrency":
		return setInt(&l.Worker.Concurrency, name, v)
	case n == 2 && parts[0] == "worker" && parts[1] == "rcpts_per_minute_per_mx":
		return setInt(&l.Worker.RcptsPerMin, name, v)
	case n == 2 && parts[0] == "worker" && parts[1] == "per_address":
		return setBool(&l.Worker.PerAddress, name, v)
	case n == 2 && parts[0] == "worker" && parts[1] == "recipients_per_session":
		return setInt(&l.Worker.PerSession, name, v)
	case n == 3 && parts[0] == "worker" && parts[1] == "rabbitmq" && parts[2] == "concurrency":
		return setInt(&l.Worker.RabbitMQ.Concurrency, name, v)
	case n == 2 && parts[0] == "storage":
		return setStorage(&l.Storage, parts[1], name, v)
	}
	return unknownVar(name)
}

// unknownVar reports a variable that names no setting, with the key it maps
// to: RCH__OVERRIDES__GMIAL__TYPE is overrides.gmial.type.
func unknownVar(name string) error {
	key := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, envPrefix)), "__", ".")
	return fmt.Errorf("%s: %w %s", name, ErrUnknownKey, key)
}

func setTop(l *layer, key, name, v string) error {
	switch key {
	case "backend_name":
		l.BackendName = &v
	case "http_host":
		l.HTTPHost = &v
	case "http_port":
		return setInt(&l.HTTPPort, name, v)
	case "hello_name":
		l.HelloName = &v
	case "from_email":
		l.FromEmail = &v
	case "smtp_timeout":
		return setInt64(&l.SMTPTimeout, name, v)
	case "smtp_port":
		return setInt(&l.SMTPPort, name, v)
	case "retries":
		return setInt(&l.Retries, name, v)
	case "header_secret":
		l.HeaderSecret = &v
	case "cache_ttl":
		return setInt64(&l.CacheTTL, name, v)
	case "allow_private_mx":
		return setBool(&l.AllowPrivateMX, name, v)
	case "allow_direct":
		return setBool(&l.AllowDirect, name, v)
	case "allow_request_proxy":
		return setBool(&l.AllowRequestProxy, name, v)
	case "dns":
		list := splitList(v)
		l.DNS = &list
	case "greylist_wait":
		return setInt64(&l.GreylistWait, name, v)
	case "log_level":
		l.LogLevel = &v
	case "log_emails":
		return setBool(&l.LogEmails, name, v)
	case "inline_budget":
		return setInt64(&l.InlineBudget, name, v)
	case "gravatar_url":
		l.GravatarURL = &v
	case "haveibeenpwned_api_key":
		l.HIBPKey = &v
	default:
		return unknownVar(name)
	}
	return nil
}

func setProxy(p *layerProxy, key, name, v string) error {
	switch key {
	case "host":
		p.Host = &v
	case "port":
		return setInt(&p.Port, name, v)
	case "username":
		p.Username = &v
	case "password":
		p.Password = &v
	case "timeout_ms":
		return setInt64(&p.TimeoutMS, name, v)
	default:
		return unknownVar(name)
	}
	return nil
}

func setOverride(o *layerOverride, key, name, v string) error {
	switch key {
	case "type":
		o.Type = &v
	case "proxy":
		o.Proxy = &v
	case "hello_name":
		o.HelloName = &v
	case "from_email":
		o.FromEmail = &v
	case "smtp_port":
		return setInt(&o.SMTPPort, name, v)
	case "smtp_timeout":
		return setInt64(&o.SMTPTimeout, name, v)
	case "retries":
		return setInt(&o.Retries, name, v)
	default:
		return unknownVar(name)
	}
	return nil
}

func setThrottle(t *layerThrottle, key, name, v string) error {
	switch key {
	case "max_requests_per_second":
		return setInt(&t.PerSecond, name, v)
	case "max_requests_per_minute":
		return setInt(&t.PerMinute, name, v)
	case "max_requests_per_hour":
		return setInt(&t.PerHour, name, v)
	case "max_requests_per_day":
		return setInt(&t.PerDay, name, v)
	}
	return unknownVar(name)
}

func setStorage(s *layerStorage, key, name, v string) error {
	switch key {
	case "dynamodb_table":
		s.DynamoDBTable = &v
	case "sqs_queue_url":
		s.SQSQueueURL = &v
	case "data_dir":
		s.DataDir = &v
	default:
		return unknownVar(name)
	}
	return nil
}

func setInt(dst **int, name, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%s: %w: %q", name, ErrNotANumber, v)
	}
	*dst = &n
	return nil
}

func setInt64(dst **int64, name, v string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %w: %q", name, ErrNotANumber, v)
	}
	*dst = &n
	return nil
}

func setBool(dst **bool, name, v string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%s: %w: %q", name, ErrNotABool, v)
	}
	*dst = &b
	return nil
}

// splitList splits a comma-separated value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
