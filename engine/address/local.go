package address

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkLocal validates a local part: a dot-atom (RFC 5322 §3.2.3) or a
// quoted string (RFC 5321 §4.1.2), each extended with UTF-8 by RFC 6531 §3.3.
// The obsolete mixed forms such as `"a".b` (RFC 5322 §4.4) are refused: no
// current MTA generates them.
func checkLocal(l string) Reason {
	var r Reason
	if strings.HasPrefix(l, `"`) {
		r = checkQuoted(l)
	} else {
		r = checkDotAtom(l)
	}
	if r == 0 && len(l) > maxLocal {
		r = LocalTooLong
	}
	return r
}

// checkDotAtom validates an unquoted local part.
func checkDotAtom(l string) Reason {
	if l == "" {
		return LocalEmpty
	}
	for i := 0; i < len(l); {
		c := l[i]
		if c >= utf8.RuneSelf {
			ru, n := utf8.DecodeRuneInString(l[i:])
			if r := checkNonASCII(ru, BadLocal); r != 0 {
				return r
			}
			i += n
			continue
		}
		if !isAtext(c) && c != '.' {
			return classify(c, BadLocal)
		}
		i++
	}
	if l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return LocalDots
	}
	return 0
}

// checkQuoted validates a quoted local part, quotes included. RFC 5321
// §4.1.2 is stricter than RFC 5322: qtextSMTP is printable ASCII and space
// (no tab, no folding), and a quoted pair escapes only %d32-126.
func checkQuoted(l string) Reason {
	body := l[1 : len(l)-1]
	if body == "" {
		// The grammar allows `""`, but it names no mailbox any MTA
		// delivers to, and a probe for it would be meaningless.
		return LocalEmpty
	}
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '\\':
			if i+1 >= len(body) || body[i+1] < ' ' || body[i+1] > '~' {
				return BadQuoted
			}
			i += 2
		case c == '"':
			return BadQuoted // unreachable through Parse: quotedEnd stops here
		case c >= ' ' && c <= '~':
			i++
		default:
			ru, n := utf8.DecodeRuneInString(body[i:])
			if r := checkNonASCII(ru, BadQuoted); r != 0 {
				return r
			}
			i += n
		}
	}
	return 0
}

// checkNonASCII accepts the UTF8-non-ascii characters of RFC 6531 §3.3 that
// print: letters, marks, digits, punctuation and symbols. Spaces, controls
// and invisible format characters (bidi overrides, zero-width joiners) are
// refused because they make addresses that look alike but differ. Parse
// has already checked that the input is valid UTF-8.
func checkNonASCII(r rune, bad Reason) Reason {
	switch {
	case unicode.IsControl(r):
		return ControlChar
	case unicode.IsSpace(r):
		return Whitespace
	case !unicode.IsGraphic(r):
		return bad
	}
	return 0
}

// isAtext reports whether c is an RFC 5322 §3.2.3 atext character.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// classify names the reason for an ASCII character that is not allowed where
// it was found, preferring a reason that tells the user what they typed.
func classify(c byte, fallback Reason) Reason {
	switch c {
	case ' ', '\t':
		return Whitespace
	case '<', '>':
		return DisplayName
	case '(', ')':
		return Comment
	case '@':
		return MultipleAt
	}
	return fallback
}
