package mta

import (
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// rcpt asks srv about each recipient in one session from sender and
// returns the replies ("250 ..." or the error text).
func rcpt(t *testing.T, addr, helo, sender string, rcpts ...string) []string {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(helo); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(sender); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rcpts {
		var te *textproto.Error
		if err := c.Rcpt(r); errors.As(err, &te) {
			out = append(out, fmt.Sprintf("%d %s", te.Code, te.Msg))
		} else if err != nil {
			t.Fatal(err)
		} else {
			out = append(out, "250")
		}
	}
	_ = c.Quit()
	return out
}

func TestPostfixRepliesWithRealWording(t *testing.T) {
	t.Parallel()
	lb := NewLoopback(t)
	s := StartPostfix(t, lb, Postfix{
		Domains:             []string{"pf.test", "all.test"},
		Mailboxes:           []string{"known@pf.test", "full@pf.test", "@all.test"},
		RecipientAccess:     map[string]string{"full@pf.test": "552 5.2.2 Mailbox full"},
		SenderAccess:        map[string]string{"nowhere.test": "553 5.1.8 Domain not found"},
		RejectNonFQDNSender: true,
	})
	got := rcpt(t, s.Addr.String(), "probe.example", "hello@mailprobe.example",
		"known@pf.test", "nobody@pf.test", "full@pf.test", "anything@all.test")
	want := []string{"250", "550 5.1.1", "552 5.2.2", "250"}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("reply %d = %q, want %s...", i, got[i], want[i])
		}
	}
	if got := rcpt(t, s.Addr.String(), "probe.example", "hello@localhost", "known@pf.test"); !strings.Contains(got[0], "504 5.5.2 <hello@localhost>: Sender address rejected: need fully-qualified address") {
		t.Errorf("non-FQDN sender: %q", got)
	}
	if got := rcpt(t, s.Addr.String(), "probe.example", "a@nowhere.test", "known@pf.test"); !strings.Contains(got[0], "553 5.1.8 <a@nowhere.test>: Sender address rejected: Domain not found") {
		t.Errorf("sender access: %q", got)
	}
	if c := s.Clients(); len(c) != 3 || c[0] != "127.0.0.1" {
		t.Errorf("clients = %v, want 3 from 127.0.0.1", c)
	}
}

func TestPostgreyGreylistsThroughPostfix(t *testing.T) {
	t.Parallel()
	lb := NewLoopback(t)
	pg := StartPostgrey(t, lb, time.Second)
	s := StartPostfix(t, lb, Postfix{Domains: []string{"grey.test"}, Mailboxes: []string{"known@grey.test"}, Policy: pg.Addr})
	got := rcpt(t, s.Addr.String(), "probe.example", "a@mailprobe.example", "known@grey.test", "nobody@grey.test")
	if !strings.HasPrefix(got[0], "450 4.2.0 <known@grey.test>: Recipient address rejected: Greylisted") || !strings.HasPrefix(got[1], "550 5.1.1") {
		t.Fatalf("first try: %q", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := rcpt(t, s.Addr.String(), "probe.example", "a@mailprobe.example", "known@grey.test"); got[0] != "250" {
		t.Fatalf("after the delay: %q", got)
	}
}

func TestEximVerifiesRecipients(t *testing.T) {
	t.Parallel()
	lb := NewLoopback(t)
	s := StartExim(t, lb, Exim{Domains: []string{"ex.test", "any.test"}, Users: []string{"known@ex.test"}, CatchAll: []string{"any.test"}})
	got := rcpt(t, s.Addr.String(), "probe.example", "a@mailprobe.example", "known@ex.test", "nobody@ex.test", "x@any.test", "x@elsewhere.test")
	want := []string{"250", "550 Unrouteable address", "250", "550 relay not permitted"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d = %q, want %q", i, got[i], want[i])
		}
	}
	if c := s.Clients(); len(c) != 1 || c[0] != "127.0.0.1" {
		t.Errorf("clients = %v\n%s", c, s.Log())
	}
}

func TestOpenSMTPDChecksVirtualUsers(t *testing.T) {
	t.Parallel()
	lb := NewLoopback(t)
	s := StartOpenSMTPD(t, lb, OpenSMTPD{Domains: []string{"os.test"}, ExpandDomains: []string{"list.test"}, Users: []string{"known@os.test", "known@list.test"}})
	got := rcpt(t, s.Addr.String(), "probe.example", "a@mailprobe.example", "known@os.test", "nobody@os.test", "known@list.test", "nobody@list.test")
	want := []string{"250", "550 Invalid recipient: <nobody@os.test>", "250", "524 5.2.4 Mailing list expansion problem: <nobody@list.test>"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d = %q, want %q", i, got[i], want[i])
		}
	}
	if c := s.Clients(); len(c) != 1 || c[0] != "127.0.0.1" {
		t.Errorf("clients = %v\n%s", c, s.Log())
	}
}
