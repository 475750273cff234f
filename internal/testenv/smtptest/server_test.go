package smtptest_test

import (
	"bufio"
	"net"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// client is a bare line client: it sends raw lines and reads raw replies.
type client struct {
	t    *testing.T
	conn net.Conn
	tp   *textproto.Reader
}

func dial(t *testing.T, s *smtptest.Server) *client {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails the test instead of blocking it
	return &client{t: t, conn: conn, tp: textproto.NewReader(bufio.NewReader(conn))}
}

// send writes lines in one write and returns the code of each reply.
func (c *client) send(lines ...string) []int {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	codes := make([]int, len(lines))
	for i := range lines {
		codes[i] = c.reply()
	}
	return codes
}

func (c *client) reply() int {
	c.t.Helper()
	code, _, err := c.tp.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatalf("read reply: %v", err)
	}
	return code
}

func TestConversation(t *testing.T) {
	tests := []struct {
		name  string
		opts  smtptest.Options
		lines []string
		want  []int
	}{
		{"known and unknown users", smtptest.Options{Users: map[string]string{"a@b.test": "250 2.1.5 OK"}},
			[]string{"EHLO me", "MAIL FROM:<x@y.test>", "RCPT TO:<A@b.test>", "RCPT TO:<z@b.test>", "RSET", "NOOP", "QUIT"},
			[]int{250, 250, 250, 550, 250, 250, 221}},
		{"catch-all", smtptest.Options{CatchAll: true},
			[]string{"HELO me", "MAIL FROM:<>", "RCPT TO:<anything@b.test>"}, []int{250, 250, 250}},
		{"sequence errors", smtptest.Options{},
			[]string{"MAIL FROM:<x@y.test>", "EHLO me", "RCPT TO:<a@b.test>", "MAIL FROM:<x@y.test>", "MAIL FROM:<x@y.test>"},
			[]int{503, 250, 503, 250, 503}},
		{"syntax", smtptest.Options{}, []string{"EHLO me", "MAIL FROM:x@y.test", "MAIL FROM: <x@y.test>", "RCPT TO:a"},
			[]int{250, 501, 250, 501}},
		{"data refused, unknown verb", smtptest.Options{CatchAll: true},
			[]string{"EHLO me", "MAIL FROM:<>", "RCPT TO:<a@b.test>", "DATA", "STARTTLS", "VRFY a"}, []int{250, 250, 250, 554, 500, 252}},
		{"ehlo rejected", smtptest.Options{EHLOReject: true}, []string{"EHLO me", "HELO me"}, []int{502, 250}},
		{"mail reply", smtptest.Options{MailReply: "550 5.7.1 sender rejected"},
			[]string{"EHLO me", "MAIL FROM:<x@y.test>", "RCPT TO:<a@b.test>"}, []int{250, 550, 503}},
		{"recipient limit", smtptest.Options{CatchAll: true, MaxRecipients: 2},
			[]string{"EHLO me", "MAIL FROM:<>", "RCPT TO:<a@b.test>", "RCPT TO:<b@b.test>", "RCPT TO:<c@b.test>",
				"RSET", "MAIL FROM:<>", "RCPT TO:<c@b.test>"}, []int{250, 250, 250, 250, 452, 250, 250, 250}},
		{"smtputf8 refused", smtptest.Options{CatchAll: true},
			[]string{"EHLO me", "MAIL FROM:<> SMTPUTF8", "MAIL FROM:<ü@y.test>"}, []int{250, 555, 553}},
		{"smtputf8", smtptest.Options{CatchAll: true, SMTPUTF8: true},
			[]string{"EHLO me", "MAIL FROM:<> SMTPUTF8", "RCPT TO:<ü@b.test>"}, []int{250, 250, 250}},
		{"mailbox func", smtptest.Options{Mailbox: func(rcpt string) string { return "550-5.2.1 " + rcpt + "\n550 5.2.1 disabled" }},
			[]string{"EHLO me", "MAIL FROM:<>", "RCPT TO:<a@b.test>"}, []int{250, 250, 550}},
		{"554 banner", smtptest.Options{Banner: "554 5.7.1 no service for you"}, []string{"EHLO me", "QUIT"}, []int{503, 221}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := smtptest.Start(t, tt.opts)
			c := dial(t, s)
			c.reply()
			if got := c.send(tt.lines...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("codes = %v, want %v", got, tt.want)
			}
			if got := s.Commands(); !reflect.DeepEqual(got, tt.lines) {
				t.Errorf("Commands() = %q, want %q", got, tt.lines)
			}
		})
	}
}

func TestEHLOAdvertises(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Pipelining: true, SMTPUTF8: true})
	c := dial(t, s)
	c.reply()
	_, _ = c.conn.Write([]byte("EHLO me\r\n"))
	_, msg, err := c.tp.ReadResponse(250)
	if err != nil {
		t.Fatal(err)
	}
	for _, kw := range []string{"PIPELINING", "SMTPUTF8", "ENHANCEDSTATUSCODES"} {
		if !strings.Contains(msg, kw) {
			t.Errorf("EHLO reply %q lacks %s", msg, kw)
		}
	}
}

func TestGreylistAcrossSessions(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{CatchAll: true, Greylist: 2})
	var got []int
	for range 2 {
		c := dial(t, s)
		c.reply()
		got = append(got, c.send("EHLO me", "MAIL FROM:<>", "RCPT TO:<A@b.test>", "RCPT TO:<a@b.test>")[2:]...)
	}
	if want := []int{450, 450, 250, 250}; !reflect.DeepEqual(got, want) {
		t.Errorf("RCPT codes = %v, want %v", got, want)
	}
	if s.Sessions() != 2 || s.Rcpts() != 4 {
		t.Errorf("Sessions, Rcpts = %d, %d; want 2, 4", s.Sessions(), s.Rcpts())
	}
}

func TestBatching(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{CatchAll: true, Pipelining: true})
	c := dial(t, s)
	c.reply()
	c.send("EHLO me")
	c.send("MAIL FROM:<>")
	if s.MaxBatch() != 1 {
		t.Fatalf("MaxBatch() = %d after single commands, want 1", s.MaxBatch())
	}
	c.send("RCPT TO:<a@b.test>", "RCPT TO:<b@b.test>", "RCPT TO:<c@b.test>")
	if s.MaxBatch() < 2 {
		t.Errorf("MaxBatch() = %d after a pipelined group, want > 1", s.MaxBatch())
	}
}

func TestClosingReplies(t *testing.T) {
	tests := []struct {
		name string
		opts smtptest.Options
		cmds []string
	}{
		{"drop after banner", smtptest.Options{DropAfterBanner: true}, nil},
		{"421 banner", smtptest.Options{Banner: "421 4.3.2 try later"}, nil},
		{"421 to RCPT", smtptest.Options{Mailbox: func(string) string { return "421 4.3.2 shutting down" }},
			[]string{"EHLO me", "MAIL FROM:<>", "RCPT TO:<a@b.test>"}},
		{"QUIT", smtptest.Options{}, []string{"QUIT"}},
		{"line too long", smtptest.Options{}, []string{"NOOP " + strings.Repeat("x", 3000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := smtptest.Start(t, tt.opts)
			c := dial(t, s)
			c.reply()
			if len(tt.cmds) > 0 {
				c.send(tt.cmds...)
			}
			if _, err := c.tp.ReadLine(); err == nil {
				t.Error("connection still open, want closed")
			}
		})
	}
}

func TestSourceAndUpdate(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Source: "127.0.0.2"})
	c := dial(t, s)
	if _, err := c.tp.ReadLine(); err == nil {
		t.Fatal("connection from 127.0.0.1 got a banner, want it closed")
	}
	if s.Refused() != 1 || s.Sessions() != 0 {
		t.Errorf("Refused, Sessions = %d, %d; want 1, 0", s.Refused(), s.Sessions())
	}
	s.Update(func(o *smtptest.Options) { o.Source = "127.0.0.1"; o.Banner = "220 phase two" })
	c = dial(t, s)
	if line, err := c.tp.ReadLine(); err != nil || line != "220 phase two" {
		t.Errorf("banner = %q, %v; want %q", line, err, "220 phase two")
	}
	if s.Host() != "127.0.0.1" || s.Port() == 0 || s.MaxConcurrentSessions() != 1 {
		t.Errorf("Host, Port, MaxConcurrentSessions = %s, %d, %d", s.Host(), s.Port(), s.MaxConcurrentSessions())
	}
}

func TestUpdateCopiesUsers(t *testing.T) {
	users := map[string]string{"a@b.test": "250 OK"}
	s := smtptest.Start(t, smtptest.Options{Users: users})
	s.Update(func(o *smtptest.Options) { o.Users["c@b.test"] = "250 OK" })
	if len(users) != 1 {
		t.Errorf("Update changed the caller's map: %v", users)
	}
	if got := s.Options().Users; len(got) != 2 {
		t.Errorf("Options().Users = %v, want two users", got)
	}
}

func TestTarpitAndClose(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{NoBanner: true})
	c := dial(t, s)
	_, _ = c.conn.Write([]byte("EHLO me\r\n"))
	s.Close() // must not wait for the tarpit session to end by itself
	if _, err := c.tp.ReadLine(); err == nil {
		t.Error("tarpit answered, want silence then close")
	}
	if got := s.Commands(); len(got) != 0 {
		t.Errorf("Commands() = %q, want none from a tarpit", got)
	}
}
