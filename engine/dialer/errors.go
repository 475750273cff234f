package dialer

import (
	"errors"
	"fmt"
)

// ProxyErrorKind says what went wrong in a SOCKS5 dial, at the level the
// engine needs to choose an outcome: retry through another proxy, try the
// next MX, or report a configuration error.
type ProxyErrorKind int

// The kinds of ProxyError. The zero value is not a valid kind.
const (
	// ProxyUnreachable: the TCP connection to the proxy failed, or the
	// proxy closed it before answering the greeting.
	ProxyUnreachable ProxyErrorKind = iota + 1
	// ProxyAuth: RFC 1929 status other than 0, or the proxy accepts none
	// of the offered methods (RFC 1928 §3, X'FF'), typically because it
	// demands a password we do not have.
	ProxyAuth
	// ProxyProtocol: the proxy answered with bytes that are not SOCKS5.
	ProxyProtocol
	// TargetRefused: RFC 1928 §6 reply X'05', the target port is closed.
	TargetRefused
	// TargetUnreachable: reply X'03' or X'04'.
	TargetUnreachable
	// NotAllowed: reply X'02', the proxy's ruleset forbids the target.
	NotAllowed
	// ProxyFailure: reply X'01' (general failure) or another failure
	// code, or the proxy hung up after receiving CONNECT.
	ProxyFailure
	// Timeout: a deadline (the context's or Proxy.Timeout) expired.
	Timeout
	// Canceled: the context was canceled.
	Canceled
	// TTLExpired: reply X'06'. Real proxies (dante, microsocks) send it
	// when their own connect to the target timed out (ETIMEDOUT): the
	// target, or a firewall on the way, drops the SYN without answering.
	TTLExpired
)

// String returns a short lower-case name, stable enough for metrics.
func (k ProxyErrorKind) String() string {
	switch k {
	case ProxyUnreachable:
		return "proxy unreachable"
	case ProxyAuth:
		return "proxy authentication failed"
	case ProxyProtocol:
		return "proxy protocol error"
	case TargetRefused:
		return "target refused connection"
	case TargetUnreachable:
		return "target unreachable"
	case NotAllowed:
		return "connection not allowed by proxy"
	case ProxyFailure:
		return "proxy failure"
	case Timeout:
		return "timeout"
	case Canceled:
		return "canceled"
	case TTLExpired:
		return "TTL expired"
	default:
		return fmt.Sprintf("ProxyErrorKind(%d)", int(k))
	}
}

// Stage is the step of the SOCKS5 exchange at which a dial failed.
type Stage int

// The stages of a SOCKS5 dial, in order.
const (
	// StageDial: opening the TCP connection to the proxy.
	StageDial Stage = iota + 1
	// StageGreeting: method negotiation (RFC 1928 §3).
	StageGreeting
	// StageAuth: username/password sub-negotiation (RFC 1929 §2).
	StageAuth
	// StageConnect: the CONNECT request and its reply (RFC 1928 §4, §6).
	StageConnect
)

// String returns the stage's name.
func (s Stage) String() string {
	switch s {
	case StageDial:
		return "dial"
	case StageGreeting:
		return "greeting"
	case StageAuth:
		return "auth"
	case StageConnect:
		return "connect"
	default:
		return fmt.Sprintf("Stage(%d)", int(s))
	}
}

// ProxyError is returned by SOCKS5 dialers for every failure after the
// arguments were validated. Use errors.As to inspect it.
type ProxyError struct {
	// ProxyID is the proxy's configured id (Proxy.ID), possibly empty.
	ProxyID string
	// Proxy is the proxy's redacted URL (Proxy.String), never the password.
	Proxy string
	// Kind classifies the failure.
	Kind ProxyErrorKind
	// Stage is where in the exchange it failed.
	Stage Stage
	// Reply is the failure byte the proxy sent, when it sent one: the
	// RFC 1928 §6 reply code at StageConnect, the RFC 1929 status at
	// StageAuth, X'FF' at StageGreeting. Zero otherwise.
	Reply byte
	// Err is the underlying error, if any.
	Err error
}

// Error describes the failure with the proxy's id and redacted URL, never
// its password.
func (e *ProxyError) Error() string {
	var msg string
	if e.ProxyID != "" {
		msg = fmt.Sprintf("dialer: socks5 proxy %s (%s): %s", e.ProxyID, e.Proxy, e.Kind)
	} else {
		msg = fmt.Sprintf("dialer: socks5 proxy %s: %s", e.Proxy, e.Kind)
	}
	if e.Reply != 0 {
		msg += fmt.Sprintf(" (%s reply 0x%02x)", e.Stage, e.Reply)
	} else if e.Stage != 0 {
		msg += fmt.Sprintf(" during %s", e.Stage)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error, so errors.Is(err,
// context.DeadlineExceeded) works for Timeout.
func (e *ProxyError) Unwrap() error { return e.Err }

// ProxyLevel reports whether the failure lies with the proxy rather than
// the target, so another proxy might succeed where this one failed.
// Authentication failures are excluded: they need a configuration fix,
// not a retry.
func (e *ProxyError) ProxyLevel() bool {
	switch e.Kind {
	case ProxyUnreachable, ProxyProtocol:
		return true
	case Timeout:
		// A timeout waiting for the CONNECT reply is usually the proxy
		// waiting for a slow or filtered target.
		return e.Stage == StageDial || e.Stage == StageGreeting
	}
	return false
}

// IsAuth reports whether err is, or wraps, a proxy authentication
// failure: a configuration error that neither another MX host nor a retry
// through the same proxy can cure.
func IsAuth(err error) bool {
	var pe *ProxyError
	return errors.As(err, &pe) && pe.Kind == ProxyAuth
}
