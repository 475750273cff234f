package address

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// parseDomain validates the domain of an address and returns its ASCII,
// lower-case form.
//
// Address literals ("[192.0.2.1]", RFC 5321 §4.1.3) are refused: they have
// no MX records to look up, and probing an IP address the user chose would
// turn the verifier into a port-25 scanner of arbitrary (even internal)
// hosts. All-numeric top-level labels are refused for the same reason, so
// that "user@127.0.0.1" cannot sneak in as a four-label name.
func parseDomain(d string) (string, Reason) {
	if d == "" {
		return "", DomainEmpty
	}
	if d[0] == '[' {
		return "", DomainLiteral
	}
	ascii, upper := true, false
	for i := 0; i < len(d); i++ {
		c := d[i]
		switch {
		case c >= utf8.RuneSelf:
			ascii = false
		case 'A' <= c && c <= 'Z':
			upper = true
		case isLDH(c) || c == '.':
		default:
			return "", classify(c, BadDomain)
		}
	}
	// Checked before IDNA too, so that a Unicode domain with a stray dot
	// or hyphen gets that reason rather than a vague IDNA one.
	if r := checkShape(d); r != 0 {
		return "", r
	}
	out := d
	switch {
	case !ascii || hasACELabel(d):
		// Only IDNA can map Unicode labels and check that "xn--" labels
		// are valid punycode (RFC 5891 §5.4). The Lookup profile also
		// applies the UTS #46 mapping, which lower-cases.
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", BadIDN
		}
		out = a
	case upper:
		out = strings.ToLower(d)
	}
	return out, checkLabels(out)
}

// checkLabels checks an ASCII domain against the preferred name syntax
// (RFC 1035 §2.3.1, relaxed by RFC 1123 §2.1 to allow a leading digit).
// A root dot ("example.com.") is refused: the RFC 5321 §4.1.2 Domain
// production has none.
func checkLabels(d string) Reason {
	if len(d) > maxDomain {
		return DomainTooLong
	}
	labels := 0
	for rest := d; ; {
		label, tail, more := strings.Cut(rest, ".")
		labels++
		if r := checkLabel(label); r != 0 {
			return r
		}
		if !more {
			if labels < 2 {
				return SingleLabel
			}
			if allDigits(label) {
				return NumericTLD
			}
			return 0
		}
		rest = tail
	}
}

// checkLabel checks one ASCII label.
func checkLabel(l string) Reason {
	switch {
	case l == "":
		return DomainDots
	case len(l) > maxLabel:
		return LabelTooLong
	case l[0] == '-' || l[len(l)-1] == '-':
		return DomainHyphen
	case len(l) >= 4 && l[2:4] == "--" && !strings.EqualFold(l[:2], "xn"):
		// RFC 5891 §4.2.3.1: "--" in positions 3 and 4 is reserved
		// for IDNA's "xn--" prefix.
		return DomainHyphen
	}
	for i := 0; i < len(l); i++ {
		if !isLDH(l[i]) {
			return BadDomain
		}
	}
	return 0
}

// checkShape finds empty labels and labels that start or end with a hyphen
// in a domain that may still contain Unicode.
func checkShape(d string) Reason {
	for rest := d; ; {
		label, tail, more := strings.Cut(rest, ".")
		switch {
		case label == "":
			return DomainDots
		case label[0] == '-' || label[len(label)-1] == '-':
			return DomainHyphen
		case !more:
			return 0
		}
		rest = tail
	}
}

// hasACELabel reports whether any label of d starts with the IDNA ACE prefix
// "xn--" in any case.
func hasACELabel(d string) bool {
	for i := 0; i+4 <= len(d); i++ {
		if (i == 0 || d[i-1] == '.') && strings.EqualFold(d[i:i+4], "xn--") {
			return true
		}
	}
	return false
}

// isLDH reports whether c is a letter, digit or hyphen.
func isLDH(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

// allDigits reports whether the non-empty s is all ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
