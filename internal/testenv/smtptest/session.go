package smtptest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"time"
)

// session is one SMTP conversation, driven by the server's options as they
// are at each command.
type session struct {
	srv      *Server
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	helo     bool
	mail     bool // a transaction is open
	utf8     bool // the transaction was opened with SMTPUTF8
	rcpts    int  // RCPTs in the transaction
	batch    int  // replies written since the last flush
	refusing bool // the banner was 554: only QUIT is served (RFC 5321 §3.1)
}

func newSession(s *Server, c net.Conn) *session {
	return &session{srv: s, conn: c, br: bufio.NewReaderSize(c, maxCommandBytes), bw: bufio.NewWriter(c)}
}

func (ss *session) run() {
	o := ss.srv.Options()
	if o.NoBanner {
		_, _ = io.Copy(io.Discard, ss.conn)
		return
	}
	banner := or(o.Banner, DefaultBanner)
	ss.write(banner)
	ss.flush(o)
	if o.DropAfterBanner || strings.HasPrefix(banner, "421") {
		return
	}
	ss.refusing = strings.HasPrefix(banner, "5")
	for {
		o = ss.srv.Options()
		_ = ss.conn.SetReadDeadline(time.Now().Add(or(o.IdleTimeout, defaultIdle)))
		line, err := ss.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			ss.write("500 5.5.2 line too long")
			ss.flush(o)
			return
		}
		if err != nil {
			return
		}
		cmd := strings.TrimRight(string(line), "\r\n")
		reply, done := ss.handle(o, cmd)
		ss.write(reply)
		if done || strings.HasPrefix(reply, "421") {
			ss.flush(o)
			return
		}
		// Answer only once the client has nothing more buffered: what
		// arrived together is answered together, as a pipelining
		// server does (RFC 2920 §3.2), and Delay is paid once.
		if ss.br.Buffered() == 0 {
			ss.flush(o)
		}
	}
}

// handle answers one command line and reports whether to close afterwards.
func (ss *session) handle(o Options, line string) (reply string, done bool) {
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	ss.srv.record(line, verb == "RCPT")
	switch {
	case verb == "QUIT":
		return "221 2.0.0 bye", true
	case ss.refusing:
		return "503 5.5.1 no service, only QUIT", false
	}
	switch verb {
	case "EHLO":
		if o.EHLOReject {
			return "502 5.5.1 EHLO not supported", false
		}
		ss.helo, ss.mail = true, false
		return ehloReply(o, arg, ss.conn.RemoteAddr()), o.DropAfterEHLO
	case "HELO":
		ss.helo, ss.mail = true, false
		return "250 mx.test", o.DropAfterEHLO
	case "MAIL":
		return ss.mailCmd(o, arg), false
	case "RCPT":
		return ss.rcptCmd(o, arg), false
	case "RSET":
		ss.mail = false
		return "250 2.0.0 OK", false
	case "NOOP":
		return "250 2.0.0 OK", false
	case "VRFY":
		return "252 2.5.2 cannot VRFY user, but will accept message", false
	case "DATA":
		return "554 5.3.3 this test server accepts no messages", false
	}
	return "500 5.5.1 command unrecognized", false
}

func ehloReply(o Options, name string, peer net.Addr) string {
	greeting := "250-mx.test greets " + name
	if ta, ok := peer.(*net.TCPAddr); ok && o.RevealClient {
		greeting = "250-mx.test Hello " + name + " [" + ta.IP.String() + "]"
	}
	lines := []string{greeting, "250-SIZE 35882577", "250-8BITMIME", "250-ENHANCEDSTATUSCODES"}
	if o.Pipelining {
		lines = append(lines, "250-PIPELINING")
	}
	if o.SMTPUTF8 {
		lines = append(lines, "250-SMTPUTF8")
	}
	return strings.Join(append(lines, "250 HELP"), "\n")
}

func (ss *session) mailCmd(o Options, arg string) string {
	switch {
	case !ss.helo:
		return "503 5.5.1 EHLO first"
	case ss.mail:
		return "503 5.5.1 nested MAIL command" // RFC 5321 §4.1.4
	}
	from, params, ok := path(arg, "FROM:")
	if !ok {
		return "501 5.5.4 syntax: MAIL FROM:<address>"
	}
	utf8 := strings.Contains(strings.ToUpper(params), "SMTPUTF8")
	switch {
	case utf8 && !o.SMTPUTF8:
		return "555 5.5.4 SMTPUTF8 not supported"
	case !utf8 && !ascii(from):
		return "553 5.6.7 non-ASCII address needs SMTPUTF8" // RFC 6531 §3.7.4.1
	}
	reply := or(o.MailReply, DefaultMail)
	if strings.HasPrefix(reply, "2") {
		ss.mail, ss.utf8, ss.rcpts = true, utf8, 0
	}
	return reply
}

func (ss *session) rcptCmd(o Options, arg string) string {
	if !ss.mail {
		return "503 5.5.1 MAIL first"
	}
	to, _, ok := path(arg, "TO:")
	switch {
	case !ok:
		return "501 5.5.4 syntax: RCPT TO:<address>"
	case !ss.utf8 && !ascii(to):
		return "553 5.6.7 non-ASCII address needs SMTPUTF8"
	}
	ss.rcpts++
	key := strings.ToLower(to)
	switch {
	case o.MaxRecipients > 0 && ss.rcpts > o.MaxRecipients:
		return TooManyReply
	case o.Greylist > 0 && ss.srv.greylisted(key, o.Greylist):
		return GreylistReply
	case o.Mailbox != nil:
		return o.Mailbox(to)
	}
	if r, ok := o.Users[key]; ok {
		return r
	}
	if o.CatchAll {
		return AcceptReply
	}
	return UnknownReply
}

// path parses `FROM:<addr> params` (keyword case-insensitive, a space
// after the colon tolerated) into the address and the parameters.
func path(arg, keyword string) (addr, params string, ok bool) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", "", false
	}
	rest := strings.TrimLeft(arg[len(keyword):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", "", false
	}
	return rest[1:end], strings.TrimSpace(rest[end+1:]), true
}

// write queues a reply, turning "\n" line separators into CRLF.
func (ss *session) write(reply string) {
	for l := range strings.SplitSeq(reply, "\n") {
		_, _ = ss.bw.WriteString(strings.TrimRight(l, "\r"))
		_, _ = ss.bw.WriteString("\r\n")
	}
	ss.batch++
}

// flush sends the queued replies after the simulated round trip.
func (ss *session) flush(o Options) {
	if o.Delay > 0 {
		time.Sleep(o.Delay)
	}
	ss.srv.noteBatch(ss.batch)
	ss.batch = 0
	_ = ss.bw.Flush()
}

// or returns v, or def when v is the zero value.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
