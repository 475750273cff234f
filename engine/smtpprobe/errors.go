package smtpprobe

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrInjection reports a CR, LF or NUL in a hello name or address.
	// Nothing is written to the connection when it is returned: those
	// characters would let the argument smuggle extra SMTP commands.
	ErrInjection = errors.New("smtpprobe: CR, LF or NUL in command argument")

	// ErrConnClosed reports that the server closed or reset the
	// connection. It wraps the underlying error (e.g. io.EOF), so the
	// caller can reconnect for the recipients not answered yet.
	ErrConnClosed = errors.New("connection closed by server")

	// ErrNeedsSMTPUTF8 reports an address with non-ASCII characters for
	// a server that does not offer SMTPUTF8 (RFC 6531 §3.2), or outside a
	// transaction started with it.
	ErrNeedsSMTPUTF8 = errors.New("smtpprobe: non-ASCII address needs SMTPUTF8")

	// ErrEmptyHelloName reports an empty EHLO/HELO argument (RFC 5321
	// §4.1.1.1 requires a domain or address literal).
	ErrEmptyHelloName = errors.New("smtpprobe: empty hello name")
)

// checkArg refuses what must never reach the wire inside a command line.
func checkArg(what, s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%s %q: %w", what, s, ErrInjection)
	}
	return nil
}

// isASCII reports whether s can be sent without SMTPUTF8.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
