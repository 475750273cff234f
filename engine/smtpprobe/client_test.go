package smtpprobe_test

import (
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/smtpprobe"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// connect dials s and returns a greeted client.
func connect(t *testing.T, s *smtptest.Server, opts smtpprobe.ClientOptions) *smtpprobe.Client {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := smtpprobe.NewClient(conn, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func greeted(t *testing.T, s *smtptest.Server) *smtpprobe.Client {
	t.Helper()
	c := connect(t, s, smtpprobe.ClientOptions{})
	if _, err := c.Greeting(context.Background()); err != nil {
		t.Fatalf("Greeting: %v", err)
	}
	return c
}

func TestHelloExtensions(t *testing.T) {
	ctx := context.Background()
	s := smtptest.Start(t, smtptest.Options{Pipelining: true})
	c := greeted(t, s)
	if _, err := c.Hello(ctx, "probe.test"); err != nil {
		t.Fatalf("Hello: %v", err)
	}
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"pipelining", "", true}, {"SIZE", "35882577", true}, {"8bitmime", "", true}, {"STARTTLS", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, ok := c.Extension(tt.name); v != tt.value || ok != tt.ok {
				t.Errorf("Extension(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.value, tt.ok)
			}
		})
	}
}

func TestHelloFallback(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{EHLOReject: true, Pipelining: true})
	c := greeted(t, s)
	r, err := c.Hello(context.Background(), "probe.test")
	if err != nil || r.Code != 250 {
		t.Fatalf("Hello = %v, %v; want 250 from HELO", r, err)
	}
	if _, ok := c.Extension("PIPELINING"); ok {
		t.Error("extensions recorded after HELO")
	}
	if got, want := s.Commands(), []string{"EHLO probe.test", "HELO probe.test"}; !reflect.DeepEqual(got, want) {
		t.Errorf("server saw %q, want %q", got, want)
	}
}

func TestInjectionRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(*smtpprobe.Client) error
	}{
		{"hello CRLF", func(c *smtpprobe.Client) error { _, err := c.Hello(ctx, "a\r\nMAIL FROM:<x>"); return err }},
		{"mail LF", func(c *smtpprobe.Client) error { _, err := c.Mail(ctx, "a@b.test\nRSET"); return err }},
		{"rcpt CR", func(c *smtpprobe.Client) error { _, err := c.Rcpt(ctx, "a@b.test\rx"); return err }},
		{"rcpt NUL", func(c *smtpprobe.Client) error { _, err := c.Rcpt(ctx, "a\x00@b.test"); return err }},
		{"pipelined, last bad", func(c *smtpprobe.Client) error {
			_, err := c.RcptPipelined(ctx, []string{"a@b.test", "b@b.test", "c@b.test\r\nDATA"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{Pipelining: true})
			c := greeted(t, s)
			if err := tt.call(c); !errors.Is(err, smtpprobe.ErrInjection) {
				t.Fatalf("error = %v, want ErrInjection", err)
			}
			if got := s.Commands(); len(got) != 0 {
				t.Errorf("server received %q, want nothing", got)
			}
		})
	}
}

func TestDeadlines(t *testing.T) {
	tests := []struct {
		name    string
		opts    smtpprobe.ClientOptions
		ctx     func() (context.Context, context.CancelFunc)
		wantCtx error // context error in the chain, or nil
	}{
		{"greeting timeout", smtpprobe.ClientOptions{GreetingTimeout: 50 * time.Millisecond},
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, nil},
		{"ctx deadline wins", smtpprobe.ClientOptions{GreetingTimeout: time.Hour},
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}, context.DeadlineExceeded},
		{"ctx cancelled", smtpprobe.ClientOptions{GreetingTimeout: time.Hour},
			func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{NoBanner: true})
			c := connect(t, s, tt.opts)
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := c.Greeting(ctx)
			switch {
			case tt.wantCtx != nil && !errors.Is(err, tt.wantCtx):
				t.Errorf("Greeting error = %v, want %v", err, tt.wantCtx)
			case tt.wantCtx == nil && (!errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)):
				t.Errorf("Greeting error = %v, want a per-command timeout", err)
			}
			if _, err := c.Hello(context.Background(), "x"); err == nil {
				t.Error("Hello after a failed greeting succeeded, want the connection unusable")
			}
		})
	}
}

func TestDropIsConnClosed(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{DropAfterBanner: true})
	c := greeted(t, s)
	_, err := c.Hello(context.Background(), "x")
	if !errors.Is(err, smtpprobe.ErrConnClosed) {
		t.Fatalf("Hello error = %v, want ErrConnClosed", err)
	}
	if _, err := c.Mail(context.Background(), "a@b.test"); !errors.Is(err, smtpprobe.ErrConnClosed) {
		t.Errorf("Mail after the drop = %v, want the sticky ErrConnClosed", err)
	}
}

func TestMalformedBanner(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Banner: "hello, I am not SMTP"})
	c := connect(t, s, smtpprobe.ClientOptions{})
	_, err := c.Greeting(context.Background())
	var perr *smtpprobe.ProtocolError
	if !errors.As(err, &perr) {
		t.Fatalf("Greeting error = %v, want *ProtocolError", err)
	}
}

func TestSMTPUTF8(t *testing.T) {
	ctx := context.Background()
	const to = "jörg@b.test"
	tests := []struct {
		name     string
		offered  bool
		wantErr  error
		wantMail string
	}{
		{"offered", true, nil, "MAIL FROM:<a@b.test> SMTPUTF8"},
		{"not offered", false, smtpprobe.ErrNeedsSMTPUTF8, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{SMTPUTF8: tt.offered, CatchAll: true})
			c := greeted(t, s)
			if _, err := c.Hello(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.MailUTF8(ctx, "a@b.test"); !errors.Is(err, tt.wantErr) {
				t.Fatalf("MailUTF8 error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if _, err := c.Mail(ctx, "a@b.test"); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Rcpt(ctx, to); !errors.Is(err, smtpprobe.ErrNeedsSMTPUTF8) {
					t.Errorf("Rcpt(%q) in an ASCII transaction = %v, want ErrNeedsSMTPUTF8", to, err)
				}
				return
			}
			if r, err := c.Rcpt(ctx, to); err != nil {
				t.Fatalf("Rcpt = %v, %v", r, err)
			}
			if got := s.Commands()[1]; got != tt.wantMail {
				t.Errorf("MAIL line = %q, want %q", got, tt.wantMail)
			}
		})
	}
}

func TestRcptPipelined(t *testing.T) {
	ctx := context.Background()
	users := map[string]string{"a@b.test": "250 2.1.5 OK", "c@b.test": "452 4.2.2 Mailbox full"}
	tos := []string{"a@b.test", "b@b.test", "c@b.test"}
	for _, pipelining := range []bool{true, false} {
		name := map[bool]string{true: "pipelining", false: "one by one"}[pipelining]
		t.Run(name, func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{Pipelining: pipelining, Users: users})
			c := greeted(t, s)
			if _, err := c.Hello(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Mail(ctx, "x@y.test"); err != nil {
				t.Fatal(err)
			}
			replies, err := c.RcptPipelined(ctx, tos)
			if err != nil {
				t.Fatalf("RcptPipelined: %v", err)
			}
			var codes []int
			for _, r := range replies {
				codes = append(codes, r.Code)
			}
			if want := []int{250, 550, 452}; !reflect.DeepEqual(codes, want) {
				t.Errorf("codes = %v, want %v", codes, want)
			}
			if got, want := s.MaxBatch() > 1, pipelining; got != want {
				t.Errorf("server saw a pipelined group: %v, want %v (MaxBatch %d)", got, want, s.MaxBatch())
			}
		})
	}
}

func Test421ClosesClient(t *testing.T) {
	ctx := context.Background()
	s := smtptest.Start(t, smtptest.Options{Mailbox: func(string) string { return "421 4.3.2 shutting down" }})
	c := greeted(t, s)
	if _, err := c.Hello(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Mail(ctx, ""); err != nil {
		t.Fatal(err)
	}
	r, err := c.Rcpt(ctx, "a@b.test")
	var rep *smtpprobe.Reply
	if !errors.As(err, &rep) || r.Code != 421 {
		t.Fatalf("Rcpt = %v, %v; want the 421 reply as error", r, err)
	}
	if err := c.Reset(ctx); !errors.As(err, &rep) || rep.Code != 421 {
		t.Errorf("Reset after 421 = %v, want the connection unusable because of the 421", err)
	}
}
