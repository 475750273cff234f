// Package webhook posts each finished verification to the URL a bulk job
// named, as Reacher's on_each_email webhook does: a JSON body
// {"result": <result>, "extra": <extra>} sent with POST.
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
)

// ErrBadTarget reports a webhook specification that can never be delivered
// (malformed JSON, a missing or non-HTTP URL). Callers log it once instead
// of retrying.
var ErrBadTarget = errors.New("webhook: bad target")

// Spec is the "webhook" object of a bulk request and of Reacher's queue
// messages. Only on_each_email exists in Reacher.
type Spec struct {
	OnEachEmail *Target `json:"on_each_email"`
}

// Target is where each result goes. Headers are sent as given (they often
// carry the receiver's secret), so they are never logged.
type Target struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Extra   json.RawMessage   `json:"extra,omitempty"`
}

// Parse reads a webhook specification as carried by a queue message. It
// returns nil and no error when there is none (absent, null or without
// on_each_email).
func Parse(raw json.RawMessage) (*Target, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTarget, err)
	}
	if s.OnEachEmail == nil {
		return nil, nil
	}
	if err := s.OnEachEmail.validate(); err != nil {
		return nil, err
	}
	return s.OnEachEmail, nil
}

func (t Target) validate() error {
	u, err := url.Parse(t.URL)
	if err != nil {
		// url.Parse quotes the whole URL in its error, which may carry a
		// token in its query: say only what is wrong.
		return fmt.Errorf("%w: url does not parse", ErrBadTarget)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: url scheme must be http or https", ErrBadTarget)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: url has no host", ErrBadTarget)
	}
	return nil
}

// LogValue shows the URL's scheme and host only, never its path, query,
// credentials or the headers: Slack, Discord and many other receivers put
// the webhook's secret in the path (https://hooks.slack.com/services/T/B/X).
func (t Target) LogValue() slog.Value {
	return slog.StringValue(redact(t.URL))
}

// redactedPath replaces the path and query of a logged URL.
const redactedPath = "/[redacted]"

// redact returns scheme://host, with redactedPath when the URL has a path
// or a query.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host}
	out := r.String()
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Opaque != "" || u.Fragment != "" {
		out += redactedPath
	}
	return out
}
