package engine

import (
	"fmt"
	"strings"
	"time"
)

// Request is one verification request. Its JSON form is Reacher's
// CheckEmailRequest, so the API decodes a Reacher body straight into it.
// Zero values mean "use the configured default".
type Request struct {
	ToEmail               string        `json:"to_email"`
	FromEmail             string        `json:"from_email,omitempty"`
	HelloName             string        `json:"hello_name,omitempty"`
	Proxy                 *RequestProxy `json:"proxy,omitempty"`
	SMTPPort              int           `json:"smtp_port,omitempty"`
	SMTPTimeout           *Duration     `json:"smtp_timeout,omitempty"`
	Retries               *int          `json:"retries,omitempty"`
	GmailVerifMethod      MethodName    `json:"gmail_verif_method,omitempty"`
	HotmailB2BVerifMethod MethodName    `json:"hotmailb2b_verif_method,omitempty"`
	HotmailB2CVerifMethod MethodName    `json:"hotmailb2c_verif_method,omitempty"`
	YahooVerifMethod      MethodName    `json:"yahoo_verif_method,omitempty"`
	CheckGravatar         bool          `json:"check_gravatar,omitempty"`
}

// RequestProxy is Reacher's per-request proxy object.
type RequestProxy struct {
	Host      string `json:"host"`
	Port      int    `json:"port"`
	Username  string `json:"username,omitempty"`
	Password  string `json:"password,omitempty"`
	TimeoutMS int    `json:"timeout_ms,omitempty"`
}

// MethodName is a provider verification method as written in requests and
// configuration. Reacher spells them "Smtp", "Api", "Headless"; the
// configuration file spells them in lower case. Both are accepted.
type MethodName string

// Method is how a provider's mailboxes are checked.
type Method int

// Methods. mailprobe implements SMTP; Api and Headless (Reacher's browser
// automation) are accepted for compatibility and reported as skipped.
const (
	MethodDefault Method = iota
	MethodSMTP
	MethodSkip
	MethodAPI
	MethodHeadless
)

// ParseMethod reads a method name case-insensitively.
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return MethodDefault, nil
	case "smtp":
		return MethodSMTP, nil
	case "skip", "skipped", "none":
		return MethodSkip, nil
	case "api":
		return MethodAPI, nil
	case "headless":
		return MethodHeadless, nil
	}
	return MethodDefault, fmt.Errorf("unknown verification method %q (want smtp, skip, api or headless)", s)
}

// Validate reports the first malformed field of a request, in words an API
// client can act on. It does not check the address syntax: an invalid
// address is a verdict, not a bad request.
func (r Request) Validate() error {
	if strings.TrimSpace(r.ToEmail) == "" {
		return fmt.Errorf("to_email field is required")
	}
	if r.SMTPPort < 0 || r.SMTPPort > 65535 {
		return fmt.Errorf("smtp_port must be between 1 and 65535")
	}
	if r.Retries != nil && (*r.Retries < 0 || *r.Retries > 5) {
		return fmt.Errorf("retries must be between 0 and 5")
	}
	if r.SMTPTimeout != nil && (r.SMTPTimeout.Std() <= 0 || r.SMTPTimeout.Std() > 10*time.Minute) {
		return fmt.Errorf("smtp_timeout must be between 1ns and 10 minutes")
	}
	if strings.ContainsAny(r.HelloName, "\r\n\x00 ") {
		return fmt.Errorf("hello_name must be a single word without spaces or line breaks")
	}
	if strings.ContainsAny(r.FromEmail, "\r\n\x00 <>") {
		return fmt.Errorf("from_email must be a bare address")
	}
	if p := r.Proxy; p != nil {
		if p.Host == "" || p.Port <= 0 || p.Port > 65535 {
			return fmt.Errorf("proxy needs a host and a port between 1 and 65535")
		}
		if p.TimeoutMS < 0 {
			return fmt.Errorf("proxy.timeout_ms must not be negative")
		}
	}
	for name, m := range map[string]MethodName{
		"gmail_verif_method": r.GmailVerifMethod, "hotmailb2b_verif_method": r.HotmailB2BVerifMethod,
		"hotmailb2c_verif_method": r.HotmailB2CVerifMethod, "yahoo_verif_method": r.YahooVerifMethod,
	} {
		if _, err := ParseMethod(string(m)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// methodFor returns the per-request method for a provider, if any.
func (r Request) methodFor(p Provider) Method {
	var n MethodName
	switch p {
	case Gmail:
		n = r.GmailVerifMethod
	case HotmailB2B:
		n = r.HotmailB2BVerifMethod
	case HotmailB2C:
		n = r.HotmailB2CVerifMethod
	case Yahoo:
		n = r.YahooVerifMethod
	}
	m, _ := ParseMethod(string(n)) // Validate reported bad names already
	return m
}
