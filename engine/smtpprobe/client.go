package smtpprobe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Default timeouts. RFC 5321 §4.5.3.2 suggests minutes for a client that
// means to deliver mail; a verifier runs under one overall deadline (45 s
// in mailprobe), so a single slow step must not use all of it. The banner
// gets longer than other commands because greet-pause and postscreen
// delay it on purpose.
const (
	DefaultGreetingTimeout = 30 * time.Second
	DefaultCommandTimeout  = 15 * time.Second
)

// quitLinger bounds the wait for the server's close after 221: a server
// that keeps the connection open costs us this much, no more.
const quitLinger = time.Second

// ClientOptions tune a Client. The zero value is usable.
type ClientOptions struct {
	// GreetingTimeout bounds the wait for the banner. Zero means
	// DefaultGreetingTimeout.
	GreetingTimeout time.Duration
	// CommandTimeout bounds every other command, from writing it to the
	// end of its reply. Zero means DefaultCommandTimeout.
	CommandTimeout time.Duration
	// MaxLineLength is the longest reply line accepted, without CRLF.
	// Zero means DefaultMaxLineLength; smaller values are raised to the
	// 512 octets every server may send (RFC 5321 §4.5.3.1.5).
	MaxLineLength int
	// DisablePipelining ignores a PIPELINING offer (RFC 2920), so every
	// command waits for its reply: for measuring what pipelining saves,
	// and for servers that advertise it but mishandle it.
	DisablePipelining bool
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.GreetingTimeout <= 0 {
		o.GreetingTimeout = DefaultGreetingTimeout
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	switch {
	case o.MaxLineLength == 0:
		o.MaxLineLength = DefaultMaxLineLength
	case o.MaxLineLength < minMaxLineLength:
		o.MaxLineLength = minMaxLineLength
	}
	return o
}

// Client is a thin state machine over one SMTP connection, in the manner
// of net/smtp, with a context on every command. The caller dials (through
// a SOCKS5 proxy, typically) and hands over the connection.
//
// Every command sets the connection deadline to the earlier of the ctx
// deadline and now plus the per-command timeout, and cancelling ctx closes
// the connection, so no server can hold a caller past its deadline.
// After a transport or protocol error, or a 421 reply, the connection is
// closed and every later command returns an error.
//
// A Client is not safe for concurrent use.
type Client struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	opts ClientOptions
	ext  map[string]string // EHLO keywords (upper case) to parameters
	utf8 bool              // the current transaction uses SMTPUTF8
	err  error             // sticky: why the connection is unusable
	rcpt int               // RCPT commands written
}

// NewClient returns a Client for conn. Call Greeting first.
func NewClient(conn net.Conn, opts ClientOptions) *Client {
	opts = opts.withDefaults()
	return &Client{
		conn: conn,
		br:   bufio.NewReaderSize(conn, max(4096, opts.MaxLineLength+2)),
		bw:   bufio.NewWriter(conn),
		opts: opts,
	}
}

// Greeting reads the server's banner (RFC 5321 §3.1). A 554 or 421
// banner is returned as both the reply and the error.
func (c *Client) Greeting(ctx context.Context) (*Reply, error) {
	return c.cmd(ctx, "greeting", c.opts.GreetingTimeout, "")
}

// Hello sends EHLO and records the extensions the server lists. A server
// that answers EHLO with 5xx does not speak ESMTP, so the client falls back
// to HELO (RFC 5321 §4.1.1.1, §3.2); no extensions are recorded then.
func (c *Client) Hello(ctx context.Context, name string) (*Reply, error) {
	if name == "" {
		return nil, ErrEmptyHelloName
	}
	if err := checkArg("hello name", name); err != nil {
		return nil, err
	}
	c.ext = nil
	r, err := c.cmd(ctx, "EHLO", c.opts.CommandTimeout, "EHLO "+name)
	if err == nil {
		c.ext = parseExtensions(r.Lines[1:])
		if c.opts.DisablePipelining {
			delete(c.ext, "PIPELINING")
		}
		return r, nil
	}
	if r == nil || !r.Permanent() {
		return r, err
	}
	return c.cmd(ctx, "HELO", c.opts.CommandTimeout, "HELO "+name)
}

// parseExtensions reads the EHLO keyword lines (RFC 5321 §4.1.1.1: every
// line after the first is "keyword [params]").
func parseExtensions(lines []string) map[string]string {
	ext := make(map[string]string, len(lines))
	for _, l := range lines {
		k, v, _ := strings.Cut(l, " ")
		if k != "" {
			ext[strings.ToUpper(k)] = v
		}
	}
	return ext
}

// Extension reports whether the server advertised the EHLO keyword name
// (case-insensitive) and returns its parameters, e.g. "SIZE" → "35882577".
func (c *Client) Extension(name string) (string, bool) {
	v, ok := c.ext[strings.ToUpper(name)]
	return v, ok
}

// Mail starts a transaction with MAIL FROM:<from> (RFC 5321 §4.1.1.2). An
// empty from sends the null reverse-path "<>". A non-ASCII from adds the
// SMTPUTF8 parameter, or fails with ErrNeedsSMTPUTF8 when the server does
// not offer it.
func (c *Client) Mail(ctx context.Context, from string) (*Reply, error) {
	return c.mail(ctx, from, !isASCII(from))
}

// MailUTF8 is Mail with the SMTPUTF8 parameter (RFC 6531 §3.4), which a
// transaction needs when any recipient's address is not ASCII.
func (c *Client) MailUTF8(ctx context.Context, from string) (*Reply, error) {
	return c.mail(ctx, from, true)
}

func (c *Client) mail(ctx context.Context, from string, utf8 bool) (*Reply, error) {
	if err := checkArg("sender", from); err != nil {
		return nil, err
	}
	line := "MAIL FROM:<" + from + ">"
	if utf8 {
		if _, ok := c.Extension("SMTPUTF8"); !ok {
			return nil, fmt.Errorf("sender %q: %w", from, ErrNeedsSMTPUTF8)
		}
		line += " SMTPUTF8"
	}
	r, err := c.cmd(ctx, "MAIL", c.opts.CommandTimeout, line)
	c.utf8 = err == nil && utf8
	return r, err
}

// Rcpt sends RCPT TO:<to> (RFC 5321 §4.1.1.3). A negative reply is
// returned as both the reply and the error.
func (c *Client) Rcpt(ctx context.Context, to string) (*Reply, error) {
	line, err := c.rcptLine(to)
	if err != nil {
		return nil, err
	}
	return c.cmd(ctx, "RCPT", c.opts.CommandTimeout, line)
}

func (c *Client) rcptLine(to string) (string, error) {
	if err := checkArg("recipient", to); err != nil {
		return "", err
	}
	if !c.utf8 && !isASCII(to) {
		return "", fmt.Errorf("recipient %q: %w", to, ErrNeedsSMTPUTF8)
	}
	return "RCPT TO:<" + to + ">", nil
}

// RcptsSent is how many RCPT commands the client has written, answered or
// not: what the server may have counted against us.
func (c *Client) RcptsSent() int { return c.rcpt }

// Reset aborts the current transaction with RSET (RFC 5321 §4.1.1.5).
func (c *Client) Reset(ctx context.Context) error {
	_, err := c.cmd(ctx, "RSET", c.opts.CommandTimeout, "RSET")
	c.utf8 = false
	return err
}

// Quit sends QUIT (RFC 5321 §4.1.1.10) and closes the connection. After
// the 221 it waits briefly (quitLinger at most) for the server to close
// its side, as §4.1.1.10 says it must: when Quit returns, the server has
// let go of the session too, so a caller that caps its sessions per
// server never overlaps the end of one with the start of the next.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.cmd(ctx, "QUIT", c.opts.CommandTimeout, "QUIT")
	if err == nil {
		stop := c.watch(ctx)
		c.setDeadline(ctx, min(c.opts.CommandTimeout, quitLinger))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.br, 4096))
		stop()
	}
	c.Close()
	return err
}

// Close closes the connection without QUIT. It is safe to call more than
// once.
func (c *Client) Close() error {
	if c.err == nil {
		c.err = net.ErrClosed
	}
	err := c.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// cmd writes line (none for the greeting) and reads the reply. Every
// command goes through here, so deadlines and error mapping live in one
// place.
func (c *Client) cmd(ctx context.Context, verb string, timeout time.Duration, line string) (*Reply, error) {
	if err := c.usable(ctx, verb); err != nil {
		return nil, err
	}
	stop := c.watch(ctx)
	defer stop()
	ctxBound := c.setDeadline(ctx, timeout)
	if line != "" {
		if verb == "RCPT" {
			c.rcpt++
		}
		_, _ = c.bw.WriteString(line)
		_, _ = c.bw.WriteString("\r\n")
		if err := c.bw.Flush(); err != nil {
			return nil, c.fail(ctx, verb, timeout, ctxBound, err)
		}
	}
	return c.read(ctx, verb, timeout, ctxBound)
}

// usable returns an error when no command may be sent: the connection
// failed earlier, or ctx is already done (which closes the connection).
func (c *Client) usable(ctx context.Context, verb string) error {
	if c.err != nil {
		return fmt.Errorf("smtp %s: connection unusable: %w", verb, c.err)
	}
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, verb, 0, false, err)
	}
	return nil
}

// read reads one reply and turns negative ones into errors.
func (c *Client) read(ctx context.Context, verb string, timeout time.Duration, ctxBound bool) (*Reply, error) {
	r, err := readReply(c.br, c.opts.MaxLineLength)
	if err != nil {
		return nil, c.fail(ctx, verb, timeout, ctxBound, err)
	}
	if r.closing() {
		// RFC 5321 §3.8: after 421 the server closes the channel.
		c.err = r
		_ = c.conn.Close()
		return r, r
	}
	if r.Code >= 400 {
		return r, r
	}
	return r, nil
}

// watch closes the connection when ctx is cancelled, which unblocks a read
// or write in progress; the returned func stops watching.
func (c *Client) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = c.conn.Close() })
}

// setDeadline sets the connection deadline for one command and reports
// whether ctx's deadline was the earlier one.
func (c *Client) setDeadline(ctx context.Context, timeout time.Duration) (ctxBound bool) {
	d := time.Now().Add(timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d, ctxBound = cd, true
	}
	// A conn without deadline support still stops on ctx via watch.
	_ = c.conn.SetDeadline(d)
	return ctxBound
}

// fail closes the connection and maps err to the package's error contract:
// the ctx error when ctx ended, a timeout wrapping os.ErrDeadlineExceeded,
// ErrConnClosed for drops, and *ProtocolError as is.
func (c *Client) fail(ctx context.Context, verb string, timeout time.Duration, ctxBound bool, err error) error {
	_ = c.conn.Close()
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("smtp %s: %w", verb, ctx.Err())
	case ctxBound && errors.Is(err, os.ErrDeadlineExceeded):
		// The connection deadline was ctx's and fired a moment before
		// ctx itself reports it.
		err = fmt.Errorf("smtp %s: %w (%w)", verb, context.DeadlineExceeded, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("smtp %s: no reply within %v: %w", verb, timeout, err)
	case closedByPeer(err):
		err = fmt.Errorf("smtp %s: %w: %w", verb, ErrConnClosed, err)
	default:
		err = fmt.Errorf("smtp %s: %w", verb, err)
	}
	c.err = err
	return err
}

func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}
