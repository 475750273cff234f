// Package address parses and normalizes one e-mail address without any I/O.
//
// It accepts a bare addr-spec (RFC 5321 §4.1.2, RFC 5322 §3.4.1): a dot-atom
// or quoted-string local part, "@", and a domain name. Display names,
// comments, angle brackets, folding white space and address literals are
// refused: mailprobe verifies mailboxes, it does not parse message headers.
//
// Local parts may contain UTF-8 (RFC 6531 §3.3, SMTPUTF8); such addresses
// report RequiresSMTPUTF8 so the SMTP probe can check that the server
// advertises the extension. Domains are converted to ASCII with IDNA
// (golang.org/x/net/idna, Lookup profile) and lower-cased, so Domain is
// always what DNS and SMTP see on the wire.
package address

import (
	"strings"
	"unicode/utf8"
)

// Length limits, in octets.
const (
	maxLocal   = 64   // RFC 5321 §4.5.3.1.1
	maxAddress = 254  // RFC 5321 §4.5.3.1.3: a 256-octet path minus "<" and ">"
	maxDomain  = 253  // RFC 1035 §2.3.4: 255 octets on the wire, 253 as text
	maxLabel   = 63   // RFC 1035 §2.3.4
	maxInput   = 1024 // bounds the work done on hostile input; see Parse
)

// Address is a syntactically valid, normalized e-mail address.
type Address struct {
	Input      string // the trimmed input
	Username   string // local part as given (quoted form kept)
	Domain     string // ASCII (IDNA/punycode) lower-case domain
	Address    string // Username + "@" + Domain
	Normalized string // provider-normalized form, see Normalize
}

// String returns the address as it is sent in SMTP commands.
func (a Address) String() string { return a.Address }

// RequiresSMTPUTF8 reports whether the local part contains non-ASCII
// characters, which a server accepts only after advertising SMTPUTF8
// (RFC 6531 §3.4). The domain is always ASCII.
func (a Address) RequiresSMTPUTF8() bool {
	for i := 0; i < len(a.Username); i++ {
		if a.Username[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// Suggestion returns Username + "@" + the provider that Suggest proposes for
// the domain, the form of Reacher's syntax.suggestion field.
func (a Address) Suggestion() (string, bool) {
	d, ok := Suggest(a.Domain)
	if !ok {
		return "", false
	}
	return a.Username + "@" + d, true
}

// Parse trims surrounding white space from s and parses it as a bare
// addr-spec. Errors are always a *SyntaxError.
//
// Inputs over 1024 bytes are refused outright: a valid address is at most
// 254 octets, and even a Unicode domain whose ASCII form fits needs no more
// than four UTF-8 bytes per octet of it.
func Parse(s string) (Address, error) {
	in := strings.TrimSpace(s)
	local, rawDomain, r := split(in)
	if r == 0 {
		r = checkLocal(local)
	}
	var domain string
	if r == 0 {
		domain, r = parseDomain(rawDomain)
	}
	if r == 0 && len(local)+1+len(domain) > maxAddress {
		r = AddressTooLong
	}
	if r != 0 {
		return Address{}, &SyntaxError{Input: s, Reason: r}
	}

	// Reuse the input when it already is the canonical form, the common
	// case: Parse then allocates nothing.
	addr := in
	if domain != rawDomain {
		addr = local + "@" + domain
	}
	local, domain = addr[:len(local)], addr[len(local)+1:]
	norm := addr
	if isGmail(domain) {
		norm = Normalize(local, domain)
	}
	return Address{Input: in, Username: local, Domain: domain, Address: addr, Normalized: norm}, nil
}

// split checks the overall shape of s and cuts it at the "@" that ends the
// local part. The "@" is found after any leading quoted string, since a
// quoted local part may itself contain "@".
func split(s string) (local, domain string, r Reason) {
	switch {
	case s == "":
		return "", "", Empty
	case len(s) > maxInput:
		return "", "", AddressTooLong
	case !utf8.ValidString(s):
		return "", "", InvalidUTF8
	}
	if r := checkControls(s); r != 0 {
		return "", "", r
	}
	end := 0 // index just past a leading quoted string
	if s[0] == '"' {
		if end = quotedEnd(s); end < 0 {
			return "", "", BadQuoted
		}
	}
	if r := checkStructure(s[end:]); r != 0 {
		return "", "", r
	}
	at := strings.IndexByte(s[end:], '@')
	switch {
	case at < 0:
		return "", "", NoAt
	case end > 0 && at > 0:
		return "", "", BadQuoted // text between the closing quote and "@"
	}
	at += end
	local, domain = s[:at], s[at+1:]
	if strings.IndexByte(domain, '@') >= 0 {
		return "", "", MultipleAt
	}
	return local, domain, 0
}

// checkControls refuses control characters anywhere, quoted or not: CR and
// LF would let an address inject SMTP commands, and no RFC 5321 production
// allows any of them (a quoted pair is limited to %d32-126).
func checkControls(s string) Reason {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\t':
			return Whitespace
		case c < ' ' || c == 0x7f:
			return ControlChar
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f:
			return ControlChar // C1 control, U+0080-U+009F
		}
	}
	return 0
}

// checkStructure looks at the unquoted part of the input for the signs of a
// header-style address, so that `Jo <jo@example.com>` reports DisplayName
// rather than a stray space.
func checkStructure(s string) Reason {
	if strings.ContainsAny(s, "<>") {
		return DisplayName
	}
	if strings.ContainsAny(s, "()") {
		return Comment
	}
	return 0
}

// quotedEnd returns the index just past the quoted string at the start of s,
// or -1 when it is not terminated.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped byte cannot end the string
		case '"':
			return i + 1
		}
	}
	return -1
}
