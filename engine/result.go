package engine

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/mailprobe/mailprobe/engine/retry"
)

// Reachability is the verdict of one verification, as Reacher names it.
type Reachability string

// The four verdicts, in Reacher's vocabulary.
const (
	Safe    Reachability = "safe"
	Risky   Reachability = "risky"
	Invalid Reachability = "invalid"
	Unknown Reachability = "unknown"
)

// Result is the outcome of one verification. Its JSON form is Reacher's
// CheckEmailOutput: the keys, their order and their types match, so a client
// written for Reacher reads it unchanged.
type Result struct {
	Input       string       `json:"input"`
	IsReachable Reachability `json:"is_reachable"`
	Misc        Step[Misc]   `json:"misc"`
	MX          Step[MX]     `json:"mx"`
	SMTP        Step[SMTP]   `json:"smtp"`
	Syntax      Syntax       `json:"syntax"`
	Debug       Debug        `json:"debug"`
	Retry       *RetryHint   `json:"-"`
	Normalized  string       `json:"-"`
}

// RetryHint tells a queue worker that the verdict is provisional: the server
// answered with a temporary failure (greylisting, rate limit, a dropped
// connection) and asked, or is expected, to be tried again later.
type RetryHint struct {
	After  time.Duration
	Reason string
	Kind   retry.Kind // for the retry policy
	Stated bool       // After is the server's own wait, not a default
	// Waited is the time the check spent waiting for politeness (the
	// per-MX limiter, a deferred MX host), which the retry window does
	// not count.
	Waited time.Duration
	// Proxy is the proxy (host:port) of the check's last session, for a
	// retry through another (Request.AvoidProxy).
	Proxy string
	// Until, when set, is the time the address may be asked again (the
	// politeness budget booked for it): After counts from when the hint
	// was made, Until stays exact however late the caller reads it.
	Until time.Time
}

// Outcome is the hint as the retry policy reads it: the check ended at at.
func (h *RetryHint) Outcome(at time.Time) retry.Outcome {
	o := retry.Outcome{Kind: h.Kind, At: at, Waited: h.Waited}
	switch {
	case !h.Until.IsZero():
		o.After = max(0, h.Until.Sub(at))
	case h.Stated:
		o.After = h.After
	}
	return o
}

// Syntax is Reacher's "syntax" object.
type Syntax struct {
	Address         *string `json:"address"`
	Domain          string  `json:"domain"`
	IsValidSyntax   bool    `json:"is_valid_syntax"`
	Username        string  `json:"username"`
	NormalizedEmail *string `json:"normalized_email"`
	Suggestion      *string `json:"suggestion"`
}

// Misc is Reacher's "misc" object.
type Misc struct {
	IsDisposable   bool    `json:"is_disposable"`
	IsRoleAccount  bool    `json:"is_role_account"`
	IsB2C          bool    `json:"is_b2c"`
	GravatarURL    *string `json:"gravatar_url"`
	HaveIBeenPwned *bool   `json:"haveibeenpwned"`
}

// MX is Reacher's "mx" object. Records keep their trailing dot.
type MX struct {
	AcceptsMail bool     `json:"accepts_mail"`
	Records     []string `json:"records"`
}

// SMTP is Reacher's "smtp" object.
type SMTP struct {
	CanConnectSMTP bool `json:"can_connect_smtp"`
	HasFullInbox   bool `json:"has_full_inbox"`
	IsCatchAll     bool `json:"is_catch_all"`
	IsDeliverable  bool `json:"is_deliverable"`
	IsDisabled     bool `json:"is_disabled"`
}

// StepError is the error object that replaces a failed step in the result:
// {"error":{"type":"<Type>","message":"..."}} with an optional sibling
// "description" ("IpBlacklisted" or "NeedsRDNS") and mailprobe's sibling
// "cause". Type and Description take only the values of Reacher's enums
// (ErrType*, smtpprobe.Desc*), because a strict client fails on a value
// it does not know; the finer reason is Cause, a field such clients skip.
type StepError struct {
	Type        string    // Reacher's error type name (ErrType*)
	Message     string    // what failed, for people
	Description string    // "IpBlacklisted", "NeedsRDNS" or ""
	Cause       Cause     // mailprobe's finer reason (cause.go), "" when none
	Timeout     *Duration // for Type Timeout: the time allowed, Reacher's message
	// SessionWide reports a refusal of the whole session rather than of
	// the mailbox: the server refused the banner, EHLO or MAIL FROM, or
	// gave the catch-all probe the same refusal as the address. Every
	// address of the domain gets it from that server. Not serialised.
	SessionWide bool
}

// Text is the error's message as text, also for a Timeout, whose JSON
// message is Reacher's {secs, nanos} duration.
func (e *StepError) Text() string {
	if e.Message == "" && e.Timeout != nil {
		return "timed out after " + e.Timeout.Std().String()
	}
	return e.Message
}

// Step holds either the value of a step or the error that replaced it.
type Step[T any] struct {
	Value T
	Err   *StepError
}

// OK returns a successful step.
func OK[T any](v T) Step[T] { return Step[T]{Value: v} }

// Failed returns a step replaced by an error object.
func Failed[T any](e *StepError) Step[T] { return Step[T]{Err: e} }

type stepErrorJSON struct {
	Error struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
	} `json:"error"`
	Description *string `json:"description,omitempty"`
	Cause       Cause   `json:"cause,omitempty"`
}

// MarshalJSON writes the value, or Reacher's error object when the step
// failed. Reacher serialises its Timeout(Duration) variant with the
// duration as the message: {"type":"Timeout","message":{"secs":45,"nanos":0}}.
func (s Step[T]) MarshalJSON() ([]byte, error) {
	if s.Err == nil {
		return json.Marshal(s.Value)
	}
	var (
		e   stepErrorJSON
		err error
	)
	e.Error.Type = s.Err.Type
	if s.Err.Type == ErrTypeTimeout && s.Err.Timeout != nil {
		e.Error.Message, err = json.Marshal(*s.Err.Timeout)
	} else {
		e.Error.Message, err = json.Marshal(s.Err.Message)
	}
	if err != nil {
		return nil, err
	}
	if s.Err.Description != "" {
		d := s.Err.Description
		e.Description = &d
	}
	e.Cause = s.Err.Cause
	return json.Marshal(e)
}

// UnmarshalJSON reads either shape, so stored results round-trip.
func (s *Step[T]) UnmarshalJSON(b []byte) error {
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(b, &probe); err == nil && len(probe.Error) > 0 && string(probe.Error) != "null" {
		var e stepErrorJSON
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		s.Err = &StepError{Type: e.Error.Type, Cause: e.Cause}
		if m := bytes.TrimSpace(e.Error.Message); len(m) > 0 && m[0] == '{' {
			var d Duration
			if err := json.Unmarshal(m, &d); err != nil {
				return err
			}
			s.Err.Timeout = &d
		} else if len(m) > 0 && string(m) != "null" {
			if err := json.Unmarshal(m, &s.Err.Message); err != nil {
				return err
			}
		}
		if e.Description != nil {
			s.Err.Description = *e.Description
		}
		return nil
	}
	s.Err = nil
	return json.Unmarshal(b, &s.Value)
}

// Debug is Reacher's "debug" object.
type Debug struct {
	BackendName string      `json:"backend_name"`
	StartTime   time.Time   `json:"start_time"`
	EndTime     time.Time   `json:"end_time"`
	Duration    Duration    `json:"duration"`
	SMTP        DebugSMTP   `json:"smtp"`
	Mailprobe   *DebugExtra `json:"mailprobe,omitempty"`
}

// Duration is Rust's serde form of std::time::Duration.
type Duration struct {
	Secs  uint64 `json:"secs"`
	Nanos uint32 `json:"nanos"`
}

// DurationOf converts a Go duration to Reacher's {secs, nanos}.
func DurationOf(d time.Duration) Duration {
	if d < 0 {
		d = 0
	}
	return Duration{Secs: uint64(d / time.Second), Nanos: uint32(d % time.Second)}
}

// Std converts back to a Go duration.
func (d Duration) Std() time.Duration {
	return time.Duration(d.Secs)*time.Second + time.Duration(d.Nanos)
}

// DebugSMTP is Reacher's debug.smtp object.
type DebugSMTP struct {
	VerifMethod VerifMethod `json:"verif_method"`
}

// VerifMethod says how the mailbox was checked: Smtp, Api, Headless or Skipped.
type VerifMethod struct {
	Type        string            `json:"type"`
	Host        string            `json:"host,omitempty"`
	VerifMethod *SMTPVerifDetails `json:"verif_method,omitempty"`
}

// SMTPVerifDetails are the SMTP settings a check used. The proxy is named
// by its id, as Reacher does: "default" for [proxy] (and for a request's
// own proxy), the id of an [overrides.proxies] entry, or url1, url2, ...
// for proxies given as URLs, by position.
type SMTPVerifDetails struct {
	FromEmail   string    `json:"from_email"`
	HelloName   string    `json:"hello_name"`
	Proxy       *string   `json:"proxy"` // the proxy's id, as in Reacher: never its address or credentials
	SMTPPort    int       `json:"smtp_port"`
	SMTPTimeout *Duration `json:"smtp_timeout"`
	Retries     int       `json:"retries"`
}

// DebugExtra carries mailprobe's additions, ignored by Reacher clients.
type DebugExtra struct {
	Provider    string   `json:"provider,omitempty"`
	MXTried     []string `json:"mx_tried,omitempty"`
	LastReply   string   `json:"last_reply,omitempty"`
	RetryAfterS int      `json:"retry_after_secs,omitempty"`
	Sessions    int      `json:"sessions,omitempty"`
	// CatchAll is the domain's catch-all probe answer for an accepted
	// address: CatchAllYes, CatchAllNo or CatchAllUnanswered.
	CatchAll string `json:"catch_all,omitempty"`
}

// Values of DebugExtra.CatchAll. An accepted address whose domain's probe
// went unanswered (deferred, refused, cut off) proves nothing, like one of
// a catch-all domain: the verdict is never safe.
const (
	CatchAllYes        = "yes"
	CatchAllNo         = "no"
	CatchAllUnanswered = "unanswered"
)
