package address

import (
	"fmt"
	"unicode/utf8"
)

// Reason says why an input is not a usable e-mail address. Callers branch on
// it with errors.As and a *SyntaxError; its String form is a stable,
// machine-readable name.
type Reason uint8

// The reasons Parse reports, roughly in the order it checks them.
const (
	// Empty: nothing but white space.
	Empty Reason = iota + 1
	// InvalidUTF8: the input is not valid UTF-8.
	InvalidUTF8
	// ControlChar: a control character (e.g. CR or LF) appears anywhere.
	ControlChar
	// Whitespace: white space outside a quoted local part.
	Whitespace
	// DisplayName: a display name or angle brackets ("Jo <jo@example.com>").
	DisplayName
	// Comment: an RFC 5322 comment in parentheses.
	Comment
	// NoAt: there is no "@".
	NoAt
	// MultipleAt: more than one "@" outside a quoted local part.
	MultipleAt
	// LocalEmpty: nothing before the "@" (or an empty quoted string).
	LocalEmpty
	// BadLocal: a character that an unquoted local part may not contain.
	BadLocal
	// LocalDots: a local part that starts or ends with a dot or has two in a row.
	LocalDots
	// BadQuoted: a malformed quoted local part.
	BadQuoted
	// LocalTooLong: a local part over 64 octets.
	LocalTooLong
	// DomainEmpty: nothing after the "@".
	DomainEmpty
	// DomainLiteral: an address literal such as [192.0.2.1].
	DomainLiteral
	// BadDomain: a character that is not a letter, digit, hyphen or dot.
	BadDomain
	// BadIDN: an internationalized domain that IDNA cannot convert to ASCII.
	BadIDN
	// DomainDots: an empty label (leading, trailing or doubled dot).
	DomainDots
	// DomainHyphen: a label that starts or ends with a hyphen, or has "--"
	// in positions 3-4 without being an "xn--" label.
	DomainHyphen
	// LabelTooLong: a label over 63 octets.
	LabelTooLong
	// DomainTooLong: a domain over 253 octets.
	DomainTooLong
	// SingleLabel: a domain without a dot, such as "localhost".
	SingleLabel
	// NumericTLD: an all-numeric top-level label, such as "1.2.3.4".
	NumericTLD
	// AddressTooLong: an address over 254 octets.
	AddressTooLong
)

// String returns the reason's stable name, e.g. "local-too-long".
func (r Reason) String() string {
	name, _ := r.describe()
	return name
}

// Message returns a one-line English explanation of the reason.
func (r Reason) Message() string {
	_, msg := r.describe()
	return msg
}

// describe keeps each reason's name and message side by side so they cannot
// drift apart; a switch keeps the table immutable.
func (r Reason) describe() (name, msg string) {
	switch r {
	case Empty:
		return "empty", "empty address"
	case InvalidUTF8:
		return "invalid-utf8", "not valid UTF-8"
	case ControlChar:
		return "control-char", "control character in the address"
	case Whitespace:
		return "whitespace", "white space is only allowed as a space inside a quoted local part"
	case DisplayName:
		return "display-name", "display names and angle brackets are not accepted, only a bare address"
	case Comment:
		return "comment", "comments in parentheses are not accepted"
	case NoAt:
		return "no-at", `missing "@"`
	case MultipleAt:
		return "multiple-at", `more than one "@" outside a quoted local part`
	case LocalEmpty:
		return "local-empty", "empty local part"
	case BadLocal:
		return "bad-local", "character not allowed in an unquoted local part (RFC 5322 §3.2.3)"
	case LocalDots:
		return "local-dots", "local part starts or ends with a dot or has consecutive dots"
	case BadQuoted:
		return "bad-quoted", "malformed quoted local part (RFC 5321 §4.1.2)"
	case LocalTooLong:
		return "local-too-long", "local part longer than 64 octets (RFC 5321 §4.5.3.1.1)"
	case DomainEmpty:
		return "domain-empty", "empty domain"
	case DomainLiteral:
		return "domain-literal", "address literals such as [192.0.2.1] are not accepted"
	case BadDomain:
		return "bad-domain", "character not allowed in a domain name (letters, digits, hyphens and dots)"
	case BadIDN:
		return "bad-idn", "internationalized domain name cannot be converted to ASCII (RFC 5891, UTS #46)"
	case DomainDots:
		return "domain-dots", "domain starts or ends with a dot or has an empty label"
	case DomainHyphen:
		return "domain-hyphen", `domain label starts or ends with a hyphen or has a reserved "--" (RFC 5891 §4.2.3.1)`
	case LabelTooLong:
		return "label-too-long", "domain label longer than 63 octets (RFC 1035 §2.3.4)"
	case DomainTooLong:
		return "domain-too-long", "domain longer than 253 octets (RFC 1035 §2.3.4)"
	case SingleLabel:
		return "single-label", "domain needs at least two labels"
	case NumericTLD:
		return "numeric-tld", "top-level domain is all-numeric (RFC 3696 §2)"
	case AddressTooLong:
		return "address-too-long", "address longer than 254 octets (RFC 5321 §4.5.3.1.3)"
	}
	return fmt.Sprintf("reason(%d)", uint8(r)), "invalid address"
}

// SyntaxError reports an input that is not a syntactically valid address.
type SyntaxError struct {
	Input  string // the input as given to Parse, before trimming
	Reason Reason
}

// maxQuoted bounds how much of the input an error message repeats, so a
// hostile megabyte of input does not become a megabyte of log line.
const maxQuoted = 100

// Error returns e.g. `invalid address "a..b@example.com": local part starts
// or ends with a dot or has consecutive dots`.
func (e *SyntaxError) Error() string {
	in := e.Input
	if len(in) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(in[cut]) {
			cut--
		}
		in = in[:cut] + "…"
	}
	return fmt.Sprintf("invalid address %q: %s", in, e.Reason.Message())
}
