package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine/address"
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

	// JobID names the work the check belongs to (a bulk job, a CLI run),
	// so that its retries probe a domain's catch-all with the same
	// address; "" draws one per check. Not part of Reacher's request.
	JobID string `json:"-"`
	// AvoidProxy is the proxy (host:port) an earlier check of the address
	// failed through: with a rotation, the check goes through another.
	AvoidProxy string `json:"-"`
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
// client can act on. Fields are checked in a fixed order, so the field
// reported is the same every time. It does not check the address syntax:
// an invalid address is a verdict, not a bad request.
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
	if err := CheckHelloName(r.HelloName); err != nil {
		return err
	}
	if err := checkFromEmail(r.FromEmail); err != nil {
		return err
	}
	if p := r.Proxy; p != nil {
		if p.Host == "" || p.Port <= 0 || p.Port > 65535 {
			return fmt.Errorf("proxy needs a host and a port between 1 and 65535")
		}
		if p.TimeoutMS < 0 {
			return fmt.Errorf("proxy.timeout_ms must not be negative")
		}
	}
	for _, f := range []struct {
		name string
		m    MethodName
	}{
		{"gmail_verif_method", r.GmailVerifMethod}, {"hotmailb2b_verif_method", r.HotmailB2BVerifMethod},
		{"hotmailb2c_verif_method", r.HotmailB2CVerifMethod}, {"yahoo_verif_method", r.YahooVerifMethod},
	} {
		if _, err := ParseMethod(string(f.m)); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// CheckHelloName accepts an empty name (the default) or one word of
// printable ASCII. RFC 5321 §4.1.1.1: EHLO takes one domain or address
// literal, both ASCII (§4.1.2; even SMTPUTF8 keeps EHLO ASCII, RFC 6531
// §3.7.1). White space or a line break would smuggle in more commands, and
// Unicode separators (U+2028, U+0085, ...) are line breaks to some
// software on the way.
func CheckHelloName(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return fmt.Errorf("hello_name must be a single word of printable ASCII (no spaces, line breaks or other characters)")
		}
	}
	return nil
}

// isSpaceOrControl reports ASCII white space and control characters.
func isSpaceOrControl(c rune) bool { return c <= ' ' || c == 0x7f }

// checkFromEmail accepts an empty from_email (the default sender) or a
// bare address. Single-label domains and address literals are accepted:
// a reverse-path may use them (RFC 5321 §4.1.2), and hello@localhost is
// Reacher's default sender.
func checkFromEmail(s string) error {
	if s == "" {
		return nil
	}
	if strings.ContainsFunc(s, isSpaceOrControl) || strings.ContainsAny(s, "<>") {
		return fmt.Errorf("from_email must be a bare address")
	}
	_, err := address.Parse(s)
	var se *address.SyntaxError
	if errors.As(err, &se) && (se.Reason == address.SingleLabel || se.Reason == address.DomainLiteral) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("from_email: %w", err)
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
