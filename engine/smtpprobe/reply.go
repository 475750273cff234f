package smtpprobe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits of the reply parser. RFC 5321 §4.5.3.1.5 caps a reply line at 512
// octets including CRLF; real servers (long Gmail and Microsoft texts with
// URLs) exceed it, so the default allows four times that before calling the
// reply malformed.
const (
	DefaultMaxLineLength = 2048
	minMaxLineLength     = 512
	maxReplyLines        = 100
)

// EnhancedCode is an RFC 3463 enhanced mail system status code such as
// 5.1.1. The zero value means the reply carried none.
type EnhancedCode struct {
	Class, Subject, Detail int
}

// IsZero reports whether the code is absent.
func (e EnhancedCode) IsZero() bool { return e == EnhancedCode{} }

// String formats the code as "class.subject.detail", or "" when absent.
func (e EnhancedCode) String() string {
	if e.IsZero() {
		return ""
	}
	return strconv.Itoa(e.Class) + "." + strconv.Itoa(e.Subject) + "." + strconv.Itoa(e.Detail)
}

// Reply is one SMTP reply (RFC 5321 §4.2), possibly multi-line, with its
// RFC 3463 enhanced status code if present. Lines hold the text after the
// reply code, without the enhanced code where a line repeats it.
//
// A *Reply is also an error: Client methods return the reply itself as the
// error when the server answers with a transient (4xx) or permanent (5xx)
// negative completion, so callers can use errors.As to get at it.
type Reply struct {
	Code     int
	Enhanced EnhancedCode
	Lines    []string
}

// Message joins the text lines with single spaces.
func (r *Reply) Message() string { return strings.Join(r.Lines, " ") }

// Error returns the reply as it would read in a log: code, enhanced code
// and text.
func (r *Reply) Error() string {
	var b strings.Builder
	b.WriteString("smtp reply ")
	b.WriteString(strconv.Itoa(r.Code))
	if !r.Enhanced.IsZero() {
		b.WriteByte(' ')
		b.WriteString(r.Enhanced.String())
	}
	for _, l := range r.Lines {
		if l != "" {
			b.WriteByte(' ')
			b.WriteString(l)
		}
	}
	return b.String()
}

// Positive reports whether the reply is a positive completion (2xx).
func (r *Reply) Positive() bool { return r.Code >= 200 && r.Code < 300 }

// Temporary reports whether the reply is a transient negative completion
// (4xx, RFC 5321 §4.2.1): the same command may succeed later.
func (r *Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports whether the reply is a permanent negative completion
// (5xx, RFC 5321 §4.2.1).
func (r *Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// closing reports a 421 reply: the server is shutting the transmission
// channel down (RFC 5321 §3.8), so no further command can be sent.
func (r *Reply) closing() bool { return r.Code == 421 }

// ProtocolError reports a reply that violates the syntax of RFC 5321 §4.2.
// After one, the reply stream cannot be trusted, so the client closes the
// connection.
type ProtocolError struct {
	Reason string // what is wrong, e.g. "mixed reply codes"
	Line   string // the offending line, truncated
}

// Error describes the violation and quotes the line.
func (e *ProtocolError) Error() string {
	return fmt.Sprintf("smtp protocol error: %s: %q", e.Reason, e.Line)
}

func protocolError(reason string, line []byte) *ProtocolError {
	const maxQuoted = 80
	if len(line) > maxQuoted {
		line = line[:maxQuoted]
	}
	return &ProtocolError{Reason: reason, Line: string(line)}
}

// ReadReply reads one complete reply from r with the default line-length
// limit. It returns io.EOF if the stream ends before a reply starts,
// io.ErrUnexpectedEOF if it ends inside one, and a *ProtocolError if the
// reply is malformed: a code outside 200-599, a missing separator after the
// code, different codes on the lines of one reply, a line longer than
// DefaultMaxLineLength, or more than 100 lines.
func ReadReply(r *bufio.Reader) (*Reply, error) {
	return readReply(r, DefaultMaxLineLength)
}

func readReply(br *bufio.Reader, maxLine int) (*Reply, error) {
	rep := &Reply{}
	for n := 0; ; n++ {
		line, err := readLine(br, maxLine)
		if err != nil {
			if n > 0 && errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		code, last, text, perr := parseLine(line)
		if perr != nil {
			return nil, perr
		}
		if n == 0 {
			rep.Code = code
		} else if code != rep.Code {
			return nil, protocolError("mixed reply codes", line)
		}
		// RFC 2034 §4 puts the enhanced code on every line; keep the
		// first line's and strip it wherever a later line repeats it.
		enh, prefix := parseEnhanced(code, text)
		if n == 0 {
			rep.Enhanced = enh
		}
		if !enh.IsZero() && enh == rep.Enhanced {
			text = text[len(prefix):]
		}
		rep.Lines = append(rep.Lines, string(text))
		if last {
			return rep, nil
		}
		if n+1 >= maxReplyLines {
			return nil, protocolError("too many reply lines", line)
		}
	}
}

// readLine returns one line without its line ending. A bare LF is accepted
// as well as CRLF (RFC 5321 §2.3.8 requires CRLF, but refusing a usable
// answer over it would only turn a verdict into "unknown").
func readLine(br *bufio.Reader, maxLine int) ([]byte, error) {
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(frag) > maxLine+2 {
				return nil, protocolError("reply line too long", append(long, frag...))
			}
			long = append(long, frag...)
			continue
		}
		if err != nil {
			if len(long)+len(frag) > 0 && errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if long != nil {
			frag = append(long, frag...)
		}
		frag = frag[:len(frag)-1]
		if n := len(frag); n > 0 && frag[n-1] == '\r' {
			frag = frag[:n-1]
		}
		if len(frag) > maxLine {
			return nil, protocolError("reply line too long", frag)
		}
		return frag, nil
	}
}

// parseLine splits a reply line into its code, whether it is the last line
// of the reply, and its text (RFC 5321 §4.2: Reply-code followed by "-" on
// all lines but the last, and by SP or nothing on the last).
func parseLine(line []byte) (code int, last bool, text []byte, err error) {
	if len(line) < 3 {
		return 0, false, nil, protocolError("short reply line", line)
	}
	c0, c1, c2 := line[0], line[1], line[2]
	// RFC 5321 §4.2.1: the first digit is 2-5 for the replies a client
	// can receive, the second 0-5.
	if c0 < '2' || c0 > '5' || c1 < '0' || c1 > '5' || c2 < '0' || c2 > '9' {
		return 0, false, nil, protocolError("bad reply code", line)
	}
	code = int(c0-'0')*100 + int(c1-'0')*10 + int(c2-'0')
	if len(line) == 3 {
		return code, true, nil, nil
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], nil
	case '-':
		return code, false, line[4:], nil
	}
	return 0, false, nil, protocolError("missing separator after reply code", line)
}

// parseEnhanced reads an RFC 3463 status code at the start of text and
// returns it with the prefix to strip (the code and the space after it).
// The class must agree with the reply code's first digit (RFC 3463 §2);
// otherwise the text is left alone, since a "5.1.1" in a 250 reply says
// nothing reliable.
func parseEnhanced(code int, text []byte) (EnhancedCode, []byte) {
	var e EnhancedCode
	if len(text) < 5 || int(text[0]-'0') != code/100 || text[1] != '.' {
		return e, nil
	}
	e.Class = code / 100
	i := 2
	var ok bool
	if e.Subject, i, ok = digits(text, i); !ok || i >= len(text) || text[i] != '.' {
		return EnhancedCode{}, nil
	}
	if e.Detail, i, ok = digits(text, i+1); !ok {
		return EnhancedCode{}, nil
	}
	switch {
	case i == len(text):
		return e, text
	case text[i] == ' ':
		return e, text[:i+1]
	}
	return EnhancedCode{}, nil
}

// digits parses one to three decimal digits at text[i:] (RFC 3463 §2
// limits subject and detail to three digits).
func digits(text []byte, i int) (n, next int, ok bool) {
	start := i
	for i < len(text) && i-start < 4 && text[i] >= '0' && text[i] <= '9' {
		n = n*10 + int(text[i]-'0')
		i++
	}
	if d := i - start; d == 0 || d > 3 {
		return 0, i, false
	}
	return n, i, true
}
