package smtpprobe_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/smtpprobe"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

const (
	realAddr   = "someone@b.test"
	randomAddr = "x7f3k9q2m1z8w4v@b.test"
	gmail5     = "550-5.1.1 The email account that you tried to reach does not exist.\n550-5.1.1 Please try double-checking.\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser - gsmtp"
	spamhaus   = "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"
)

// probe dials s and runs Probe under a generous deadline, so a bug shows
// as a failure rather than a hung test.
func probe(t *testing.T, s *smtptest.Server, p smtpprobe.Params, opts smtpprobe.ClientOptions) (smtpprobe.Outcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return probeCtx(ctx, t, s, p, opts)
}

func probeCtx(ctx context.Context, t *testing.T, s *smtptest.Server, p smtpprobe.Params, opts smtpprobe.ClientOptions) (smtpprobe.Outcome, error) {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if p.HelloName == "" {
		p.HelloName = "probe.test"
	}
	if p.FromEmail == "" {
		p.FromEmail = "hello@probe.test"
	}
	return smtpprobe.Probe(ctx, conn, p, opts)
}

func classes(out smtpprobe.Outcome) []smtpprobe.Class {
	var cs []smtpprobe.Class
	for _, r := range out.Recipients {
		cs = append(cs, r.Class)
	}
	return cs
}

func count(cmds []string, prefix string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func replyCode(err error) int {
	var r *smtpprobe.Reply
	if errors.As(err, &r) {
		return r.Code
	}
	return 0
}

// oneRcpt is the engine's usual request: one address and a catch-all probe.
var oneRcpt = smtpprobe.Params{Recipients: []string{realAddr}, CatchAllProbe: randomAddr}

var fiveDeliverable = []smtpprobe.Class{smtpprobe.Deliverable, smtpprobe.Deliverable,
	smtpprobe.Deliverable, smtpprobe.Deliverable, smtpprobe.Deliverable}

// probeTests run whole conversations against smtptest over TCP on
// 127.0.0.1, one scripted server behaviour each.
var probeTests = []struct {
	name         string
	opts         smtptest.Options
	params       smtpprobe.Params
	want         []smtpprobe.Class
	wantCatchAll *bool
	wantCode     int // reply code in the error chain; -1 for any non-reply error
	check        func(*testing.T, smtpprobe.Outcome, error, *smtptest.Server)
}{
	{name: "existing user", opts: smtptest.Options{Users: map[string]string{realAddr: "250 2.1.5 OK"}}, params: oneRcpt,
		want: []smtpprobe.Class{smtpprobe.Deliverable}, wantCatchAll: ptrTo(false),
		check: func(t *testing.T, _ smtpprobe.Outcome, _ error, s *smtptest.Server) {
			want := []string{"EHLO probe.test", "MAIL FROM:<hello@probe.test>", "RCPT TO:<" + realAddr + ">",
				"RCPT TO:<" + randomAddr + ">", "QUIT"}
			if got := s.Commands(); !reflect.DeepEqual(got, want) {
				t.Errorf("conversation = %q, want %q", got, want)
			}
		}},
	{name: "unknown user gets no catch-all probe", opts: smtptest.Options{Users: map[string]string{realAddr: gmail5}}, params: oneRcpt,
		want: []smtpprobe.Class{smtpprobe.Invalid},
		check: func(t *testing.T, out smtpprobe.Outcome, _ error, s *smtptest.Server) {
			if n := s.Rcpts(); n != 1 {
				t.Errorf("server got %d RCPTs, want 1", n)
			}
			if r := out.Recipients[0].Reply; len(r.Lines) != 3 || r.Enhanced.String() != "5.1.1" {
				t.Errorf("multi-line reply parsed as %+v", r)
			}
		}},
	{name: "catch-all", opts: smtptest.Options{CatchAll: true}, params: oneRcpt,
		want: []smtpprobe.Class{smtpprobe.Deliverable}, wantCatchAll: ptrTo(true)},
	{name: "full inbox 552", opts: smtptest.Options{Users: map[string]string{realAddr: "552 5.2.2 Mailbox full"}}, params: oneRcpt,
		want: []smtpprobe.Class{smtpprobe.FullInbox}},
	{name: "full inbox 452", opts: smtptest.Options{Users: map[string]string{realAddr: "452 4.2.2 Mailbox full"}}, params: oneRcpt,
		want: []smtpprobe.Class{smtpprobe.FullInbox}},
	{name: "disabled", opts: smtptest.Options{Users: map[string]string{realAddr: "550 5.2.1 The email account that you tried to reach is disabled"}},
		params: oneRcpt, want: []smtpprobe.Class{smtpprobe.Disabled}},
	// A refusal of us for one mailbox only: the catch-all probe, asked to
	// tell, is an unknown user, so the session is not refused.
	{name: "blocklist at RCPT", opts: smtptest.Options{Users: map[string]string{realAddr: spamhaus}}, params: oneRcpt,
		want: []smtpprobe.Class{smtpprobe.Blocked}, wantCatchAll: ptrTo(false),
		check: func(t *testing.T, out smtpprobe.Outcome, _ error, _ *smtptest.Server) {
			if d := out.Recipients[0].Description; d != smtpprobe.DescIPBlacklisted {
				t.Errorf("Description = %q, want %q", d, smtpprobe.DescIPBlacklisted)
			}
			if out.Refused != nil {
				t.Errorf("Refused = %v, want nil: the probe got another answer", out.Refused)
			}
		}},
	// Postfix's reject_non_fqdn_sender answers every RCPT alike: the
	// probe gets it too, so the session is refused, not the mailbox.
	{name: "sender refused at RCPT", opts: smtptest.Options{Mailbox: func(string) string {
		return "504 5.5.2 <hello@localhost>: Sender address rejected: need fully-qualified address"
	}}, params: smtpprobe.Params{Recipients: []string{realAddr, "other@b.test"}, CatchAllProbe: randomAddr},
		want: []smtpprobe.Class{smtpprobe.SenderRejected, smtpprobe.SenderRejected},
		check: func(t *testing.T, out smtpprobe.Outcome, _ error, s *smtptest.Server) {
			if out.Refused == nil || out.Refused.Code != 504 || s.Rcpts() != 3 {
				t.Errorf("Refused = %v after %d RCPTs, want the probe's 504 after 3", out.Refused, s.Rcpts())
			}
		}},
	{name: "mixed refusals send no probe", opts: smtptest.Options{Users: map[string]string{realAddr: spamhaus,
		"other@b.test": "550 5.7.1 Message rejected due to local policy"}},
		params: smtpprobe.Params{Recipients: []string{realAddr, "other@b.test"}, CatchAllProbe: randomAddr},
		want:   []smtpprobe.Class{smtpprobe.Blocked, smtpprobe.PolicyRejected},
		check: func(t *testing.T, out smtpprobe.Outcome, _ error, s *smtptest.Server) {
			if out.Refused != nil || s.Rcpts() != 2 {
				t.Errorf("Refused = %v after %d RCPTs, want nil after 2", out.Refused, s.Rcpts())
			}
		}},
	{name: "temporary refusal sends no probe", opts: smtptest.Options{Users: map[string]string{realAddr: "450 4.7.1 Client host rejected: cannot find your hostname"}},
		params: oneRcpt, want: []smtpprobe.Class{smtpprobe.NeedsRDNS},
		check: func(t *testing.T, out smtpprobe.Outcome, _ error, s *smtptest.Server) {
			if out.Refused != nil || s.Rcpts() != 1 {
				t.Errorf("Refused = %v after %d RCPTs, want nil after 1", out.Refused, s.Rcpts())
			}
		}},
	{name: "blocklist banner", opts: smtptest.Options{Banner: spamhaus}, params: oneRcpt, wantCode: 554,
		check: func(t *testing.T, out smtpprobe.Outcome, err error, s *smtptest.Server) {
			if out.CanConnect || out.Greeting == nil {
				t.Errorf("CanConnect, Greeting = %v, %v; want false and the banner", out.CanConnect, out.Greeting)
			}
			var r *smtpprobe.Reply
			errors.As(err, &r)
			if c, d := smtpprobe.Classify(r); c != smtpprobe.Blocked || d != smtpprobe.DescIPBlacklisted {
				t.Errorf("Classify(banner) = %v, %q", c, d)
			}
			if got := s.Commands(); !reflect.DeepEqual(got, []string{"QUIT"}) {
				t.Errorf("after a 554 banner the client sent %q, want only QUIT", got)
			}
		}},
	{name: "EHLO refused, HELO used", opts: smtptest.Options{EHLOReject: true, Pipelining: true, CatchAll: true},
		params: smtpprobe.Params{Recipients: []string{"a@b.test", "c@b.test"}},
		want:   []smtpprobe.Class{smtpprobe.Deliverable, smtpprobe.Deliverable},
		check: func(t *testing.T, out smtpprobe.Outcome, _ error, s *smtptest.Server) {
			if cmds := s.Commands(); cmds[0] != "EHLO probe.test" || cmds[1] != "HELO probe.test" {
				t.Errorf("conversation starts %q, want EHLO then HELO", cmds[:2])
			}
			if out.Pipelined {
				t.Error("Pipelined after HELO, which offers no extensions")
			}
		}},
	{name: "multi-line banner", opts: smtptest.Options{Banner: "220-mx.test ESMTP\n220-no UCE\n220 ready", CatchAll: true},
		params: smtpprobe.Params{Recipients: []string{realAddr}}, want: []smtpprobe.Class{smtpprobe.Deliverable},
		check: func(t *testing.T, out smtpprobe.Outcome, _ error, _ *smtptest.Server) {
			if len(out.Greeting.Lines) != 3 || out.CatchAll != nil {
				t.Errorf("Greeting lines = %q, CatchAll = %v; want 3 lines and no catch-all probe", out.Greeting.Lines, out.CatchAll)
			}
		}},
	{name: "dropped after banner", opts: smtptest.Options{DropAfterBanner: true}, params: oneRcpt, wantCode: -1,
		check: func(t *testing.T, out smtpprobe.Outcome, err error, _ *smtptest.Server) {
			if !errors.Is(err, smtpprobe.ErrConnClosed) || !out.CanConnect {
				t.Errorf("err = %v, CanConnect = %v; want ErrConnClosed after a banner", err, out.CanConnect)
			}
		}},
	{name: "mail from rejected", opts: smtptest.Options{MailReply: "550 5.7.1 sender address rejected"}, params: oneRcpt, wantCode: 550},
	{name: "421 mid-session", params: smtpprobe.Params{Recipients: []string{"a@b.test", "b@b.test", "c@b.test"}},
		opts: smtptest.Options{Users: map[string]string{"a@b.test": "250 OK", "b@b.test": "421 4.3.2 shutting down"}},
		want: []smtpprobe.Class{smtpprobe.Deliverable}, wantCode: 421},
	{name: "421 mid-session pipelined", params: smtpprobe.Params{Recipients: []string{"a@b.test", "b@b.test", "c@b.test"}},
		opts: smtptest.Options{Pipelining: true, Users: map[string]string{"a@b.test": "250 OK", "b@b.test": "421 4.3.2 shutting down"}},
		want: []smtpprobe.Class{smtpprobe.Deliverable}, wantCode: 421},
	{name: "second RCPT refused: catch-all asked alone", opts: smtptest.Options{CatchAll: true, MaxRecipients: 1}, params: oneRcpt,
		want: []smtpprobe.Class{smtpprobe.Deliverable}, wantCatchAll: ptrTo(true)},
	{name: "second RCPT refused, not catch-all", opts: smtptest.Options{MaxRecipients: 1, Users: map[string]string{realAddr: "250 OK"}},
		params: oneRcpt, want: []smtpprobe.Class{smtpprobe.Deliverable}, wantCatchAll: ptrTo(false)},
	{name: "probe asked after a greylisted recipient", opts: smtptest.Options{CatchAll: true, Greylist: 1}, params: oneRcpt,
		want: []smtpprobe.Class{smtpprobe.Greylisted},
		check: func(t *testing.T, out smtpprobe.Outcome, _ error, s *smtptest.Server) {
			if c, _ := smtpprobe.Classify(out.CatchAllReply); c != smtpprobe.Greylisted || out.RcptsSent != 2 {
				t.Errorf("probe reply %v, %d RCPTs sent; want the probe greylisted too, 2 RCPTs", out.CatchAllReply, out.RcptsSent)
			}
		}},
	{name: "transaction limit splits the bulk", opts: smtptest.Options{CatchAll: true, MaxRecipients: 2},
		params: smtpprobe.Params{Recipients: []string{"a@b.test", "b@b.test", "c@b.test", "d@b.test", "e@b.test"}},
		want:   fiveDeliverable,
		check: func(t *testing.T, _ smtpprobe.Outcome, _ error, s *smtptest.Server) {
			if n := count(s.Commands(), "MAIL FROM"); n != 3 {
				t.Errorf("%d transactions, want 3", n)
			}
		}},
	{name: "full transaction: catch-all asked again alone", opts: smtptest.Options{CatchAll: true, MaxRecipients: 2},
		params: smtpprobe.Params{Recipients: []string{"a@b.test", "c@b.test"}, CatchAllProbe: randomAddr},
		want:   []smtpprobe.Class{smtpprobe.Deliverable, smtpprobe.Deliverable}, wantCatchAll: ptrTo(true),
		check: func(t *testing.T, _ smtpprobe.Outcome, _ error, s *smtptest.Server) {
			want := []string{"RSET", "MAIL FROM:<hello@probe.test>", "RCPT TO:<" + randomAddr + ">", "QUIT"}
			if got := s.Commands(); !reflect.DeepEqual(got[len(got)-len(want):], want) {
				t.Errorf("conversation ends %q, want %q", got, want)
			}
		}},
	{name: "transaction limit splits pipelined groups", opts: smtptest.Options{CatchAll: true, MaxRecipients: 2, Pipelining: true},
		params: smtpprobe.Params{Recipients: []string{"a@b.test", "b@b.test", "c@b.test", "d@b.test", "e@b.test"}},
		want:   fiveDeliverable},
	{name: "rate limit on first RCPT stops", opts: smtptest.Options{Mailbox: func(string) string { return "452 4.5.3 Too many recipients this hour" }},
		params: smtpprobe.Params{Recipients: []string{"a@b.test", "b@b.test"}},
		want:   []smtpprobe.Class{smtpprobe.TooManyRecipients}, wantCode: 452},
	{name: "injection: nothing sent", opts: smtptest.Options{CatchAll: true},
		params: smtpprobe.Params{Recipients: []string{"a@b.test", "b@b.test>\r\nDATA"}}, wantCode: -1,
		check: func(t *testing.T, out smtpprobe.Outcome, err error, s *smtptest.Server) {
			if !errors.Is(err, smtpprobe.ErrInjection) || len(s.Commands()) != 0 || out.CanConnect {
				t.Errorf("err = %v, server saw %q; want ErrInjection and nothing sent", err, s.Commands())
			}
		}},
	{name: "non-ASCII without SMTPUTF8", opts: smtptest.Options{CatchAll: true},
		params: smtpprobe.Params{Recipients: []string{"jörg@b.test"}}, wantCode: -1,
		check: func(t *testing.T, _ smtpprobe.Outcome, err error, s *smtptest.Server) {
			if !errors.Is(err, smtpprobe.ErrNeedsSMTPUTF8) || count(s.Commands(), "MAIL") != 0 {
				t.Errorf("err = %v, server saw %q; want ErrNeedsSMTPUTF8 before MAIL", err, s.Commands())
			}
		}},
	{name: "non-ASCII with SMTPUTF8", opts: smtptest.Options{CatchAll: true, SMTPUTF8: true},
		params: smtpprobe.Params{Recipients: []string{"jörg@b.test"}}, want: []smtpprobe.Class{smtpprobe.Deliverable}},
}

func TestProbe(t *testing.T) {
	for _, tt := range probeTests {
		t.Run(tt.name, func(t *testing.T) {
			s := smtptest.Start(t, tt.opts)
			out, err := probe(t, s, tt.params, smtpprobe.ClientOptions{})
			switch code := replyCode(err); {
			case tt.wantCode == 0 && err != nil:
				t.Fatalf("Probe error = %v", err)
			case tt.wantCode > 0 && code != tt.wantCode:
				t.Fatalf("Probe error = %v, want reply %d", err, tt.wantCode)
			case tt.wantCode < 0 && (err == nil || code != 0):
				t.Fatalf("Probe error = %v, want a non-reply error", err)
			}
			if got := classes(out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("classes = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(out.CatchAll, tt.wantCatchAll) {
				t.Errorf("CatchAll = %v, want %v", ptrString(out.CatchAll), ptrString(tt.wantCatchAll))
			}
			for i, r := range out.Recipients {
				if r.Address != tt.params.Recipients[i] {
					t.Errorf("Recipients[%d] = %s, want %s (results must be a prefix)", i, r.Address, tt.params.Recipients[i])
				}
			}
			if tt.check != nil {
				tt.check(t, out, err, s)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

func ptrString(b *bool) string {
	if b == nil {
		return "nil"
	}
	return map[bool]string{true: "true", false: "false"}[*b]
}

func TestProbeGreylisting(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Greylist: 1, Users: map[string]string{realAddr: "250 2.1.5 OK"}})
	p := smtpprobe.Params{Recipients: []string{realAddr}}
	out, err := probe(t, s, p, smtpprobe.ClientOptions{})
	if err != nil || out.Recipients[0].Class != smtpprobe.Greylisted {
		t.Fatalf("first Probe = %v, %v; want Greylisted", classes(out), err)
	}
	if got := smtpprobe.RetryAfter(out.Recipients[0].Reply, out.Recipients[0].Class); got != time.Minute {
		t.Errorf("RetryAfter = %v, want the 60 s the reply names", got)
	}
	out, err = probe(t, s, p, smtpprobe.ClientOptions{})
	if err != nil || out.Recipients[0].Class != smtpprobe.Deliverable {
		t.Errorf("second Probe = %v, %v; want Deliverable", classes(out), err)
	}
}

func TestProbeTarpitBoundedByCtx(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{NoBanner: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// Per-command timeouts far beyond ctx: only ctx can end this.
	out, err := probeCtx(ctx, t, s, smtpprobe.Params{Recipients: []string{realAddr}},
		smtpprobe.ClientOptions{GreetingTimeout: time.Hour, CommandTimeout: time.Hour})
	if !errors.Is(err, context.DeadlineExceeded) || out.CanConnect {
		t.Errorf("Probe = %+v, %v; want context.DeadlineExceeded", out, err)
	}
}

func TestProbePipelining(t *testing.T) {
	rcpts := []string{"a@b.test", "b@b.test", "c@b.test", "d@b.test", "e@b.test"}
	users := map[string]string{"a@b.test": "250 OK", "c@b.test": "452 4.2.2 Mailbox full", "e@b.test": "250 OK"}
	want := []smtpprobe.Class{smtpprobe.Deliverable, smtpprobe.Invalid, smtpprobe.FullInbox, smtpprobe.Invalid, smtpprobe.Deliverable}
	for _, pipelining := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[pipelining], func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{Pipelining: pipelining, Users: users})
			out, err := probe(t, s, smtpprobe.Params{Recipients: rcpts, CatchAllProbe: randomAddr}, smtpprobe.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := classes(out); !reflect.DeepEqual(got, want) {
				t.Errorf("classes = %v, want %v", got, want)
			}
			if out.Pipelined != pipelining || (s.MaxBatch() >= len(rcpts)) != pipelining {
				t.Errorf("Pipelined = %v, server MaxBatch = %d; want pipelining %v", out.Pipelined, s.MaxBatch(), pipelining)
			}
			if out.CatchAll == nil || *out.CatchAll {
				t.Errorf("CatchAll = %s, want false", ptrString(out.CatchAll))
			}
		})
	}
}

func TestProbeDisablePipelining(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Pipelining: true, CatchAll: true})
	p := smtpprobe.Params{Recipients: []string{"a@b.test", "c@b.test", "d@b.test"}}
	out, err := probe(t, s, p, smtpprobe.ClientOptions{DisablePipelining: true})
	if err != nil || len(out.Recipients) != 3 {
		t.Fatalf("Probe = %v, %v", classes(out), err)
	}
	if out.Pipelined || s.MaxBatch() != 1 {
		t.Errorf("Pipelined = %v, server MaxBatch = %d; want one command at a time", out.Pipelined, s.MaxBatch())
	}
}
