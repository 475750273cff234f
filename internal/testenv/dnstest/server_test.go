package dnstest_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
)

// ask sends one query to srv over network ("udp" or "tcp").
func ask(t *testing.T, srv *dnstest.Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	resp, err := tryAsk(srv, network, name, qtype, 5*time.Second)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return resp
}

func tryAsk(srv *dnstest.Server, network, name string, qtype uint16, timeout time.Duration) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: timeout}
	resp, _, err := c.Exchange(q, srv.Addr)
	return resp, err
}

func TestAnswers(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"zone.test.": {dnstest.RR(t, "zone.test. 120 IN MX 5 mx.zone.test.")},
	})
	srv.AddMX("example.test.", 10, "mx1.example.test.")
	srv.AddMX("Example.TEST", 20, "mx2.example.test")
	srv.AddA("mx1.example.test.", "127.0.0.2")
	srv.AddAAAA("mx1.example.test.", "::1")
	srv.SetNegativeTTL(30)

	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		rcode     int
		answers   int
		soa       bool
		answerTTL uint32
	}{
		{"mx from zone", "zone.test.", dns.TypeMX, dns.RcodeSuccess, 1, false, 120},
		{"mx added", "example.test.", dns.TypeMX, dns.RcodeSuccess, 2, false, dnstest.DefaultTTL},
		{"case-insensitive", "EXAMPLE.test.", dns.TypeMX, dns.RcodeSuccess, 2, false, dnstest.DefaultTTL},
		{"a", "mx1.example.test.", dns.TypeA, dns.RcodeSuccess, 1, false, dnstest.DefaultTTL},
		{"aaaa", "mx1.example.test.", dns.TypeAAAA, dns.RcodeSuccess, 1, false, dnstest.DefaultTTL},
		{"nodata", "example.test.", dns.TypeA, dns.RcodeSuccess, 0, true, 0},
		{"nxdomain", "missing.example.test.", dns.TypeMX, dns.RcodeNameError, 0, true, 0},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				resp := ask(t, srv, network, tt.qname, tt.qtype)
				if resp.Rcode != tt.rcode {
					t.Errorf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
				}
				if len(resp.Answer) != tt.answers {
					t.Fatalf("answers = %v, want %d", resp.Answer, tt.answers)
				}
				if tt.answers > 0 && resp.Answer[0].Header().Ttl != tt.answerTTL {
					t.Errorf("ttl = %d, want %d", resp.Answer[0].Header().Ttl, tt.answerTTL)
				}
				if !tt.soa {
					return
				}
				if len(resp.Ns) != 1 {
					t.Fatalf("authority = %v, want one SOA", resp.Ns)
				}
				soa, ok := resp.Ns[0].(*dns.SOA)
				if !ok || soa.Minttl != 30 || soa.Hdr.Ttl != 30 {
					t.Errorf("authority = %v, want SOA with TTL and MINIMUM 30", resp.Ns[0])
				}
			})
		}
	}
}

func TestCNAME(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddCNAME("alias.test.", "mid.test.")
	srv.AddCNAME("mid.test.", "real.test.")
	srv.AddMX("real.test.", 10, "mx.real.test.")
	srv.AddCNAME("dangling.test.", "nowhere.test.")

	tests := []struct {
		name    string
		chase   bool
		qname   string
		qtype   uint16
		rcode   int
		answers []uint16
	}{
		{"chased", true, "alias.test.", dns.TypeMX, dns.RcodeSuccess, []uint16{dns.TypeCNAME, dns.TypeCNAME, dns.TypeMX}},
		{"not chased", false, "alias.test.", dns.TypeMX, dns.RcodeSuccess, []uint16{dns.TypeCNAME}},
		{"cname asked", true, "alias.test.", dns.TypeCNAME, dns.RcodeSuccess, []uint16{dns.TypeCNAME}},
		{"dangling", true, "dangling.test.", dns.TypeMX, dns.RcodeNameError, []uint16{dns.TypeCNAME}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ChaseCNAME(tt.chase)
			resp := ask(t, srv, "udp", tt.qname, tt.qtype)
			if resp.Rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			var got []uint16
			for _, rr := range resp.Answer {
				got = append(got, rr.Header().Rrtype)
			}
			if len(got) != len(tt.answers) {
				t.Fatalf("answer types = %v, want %v", got, tt.answers)
			}
			for i := range got {
				if got[i] != tt.answers[i] {
					t.Fatalf("answer types = %v, want %v", got, tt.answers)
				}
			}
		})
	}
}

func TestToggles(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddMX("fail.test.", 10, "mx.fail.test.")
	srv.SetRcode("fail.test.", dns.RcodeServerFailure)
	srv.AddMX("big.test.", 10, "mx.big.test.")
	srv.Truncate("big.test.")

	t.Run("rcode", func(t *testing.T) {
		resp := ask(t, srv, "udp", "fail.test.", dns.TypeMX)
		if resp.Rcode != dns.RcodeServerFailure || len(resp.Answer) != 0 {
			t.Errorf("got rcode %s with %d answers, want SERVFAIL with none", dns.RcodeToString[resp.Rcode], len(resp.Answer))
		}
	})
	t.Run("truncated over udp", func(t *testing.T) {
		resp := ask(t, srv, "udp", "big.test.", dns.TypeMX)
		if !resp.Truncated || len(resp.Answer) != 0 {
			t.Errorf("got TC=%v with %d answers, want TC with none", resp.Truncated, len(resp.Answer))
		}
	})
	t.Run("whole over tcp", func(t *testing.T) {
		resp := ask(t, srv, "tcp", "big.test.", dns.TypeMX)
		if resp.Truncated || len(resp.Answer) != 1 {
			t.Errorf("got TC=%v with %d answers, want one answer", resp.Truncated, len(resp.Answer))
		}
	})
	t.Run("remove", func(t *testing.T) {
		srv.Remove("fail.test.")
		resp := ask(t, srv, "udp", "fail.test.", dns.TypeMX)
		if resp.Rcode != dns.RcodeNameError {
			t.Errorf("rcode = %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
		}
	})
}

func TestDrop(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddMX("slow.test.", 10, "mx.slow.test.")
	srv.Drop("slow.test.")
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			_, err := tryAsk(srv, network, "slow.test.", dns.TypeMX, 50*time.Millisecond)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("err = %v, want a timeout", err)
			}
		})
	}
	// Dropped queries are counted; the server may count the last one just
	// after the client gave up, so wait for it rather than race it.
	for srv.QueriesFor("slow.test.", dns.TypeMX) < 2 {
		time.Sleep(time.Millisecond)
	}
}

func TestOversizedAnswerTruncatedOverUDP(t *testing.T) {
	srv := dnstest.Start(t, nil)
	for i := range 40 {
		srv.AddA("many.test.", net.IPv4(127, 0, 1, byte(i)).String())
	}
	// Without EDNS0 a UDP answer is limited to 512 octets (RFC 1035 §4.2.1):
	// 40 A records do not fit.
	if resp := ask(t, srv, "udp", "many.test.", dns.TypeA); !resp.Truncated {
		t.Errorf("udp answer of %d records not truncated", len(resp.Answer))
	}
	if resp := ask(t, srv, "tcp", "many.test.", dns.TypeA); resp.Truncated || len(resp.Answer) != 40 {
		t.Errorf("tcp answer: TC=%v with %d records, want 40", resp.Truncated, len(resp.Answer))
	}
}

func TestHold(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddA("held.test.", "127.0.0.3")
	release := srv.Hold("held.test.")
	done := make(chan *dns.Msg)
	go func() {
		resp, _ := tryAsk(srv, "udp", "held.test.", dns.TypeA, 10*time.Second)
		done <- resp
	}()
	for srv.QueriesFor("held.test.", dns.TypeA) == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("held query answered before release")
	default:
	}
	release()
	if resp := <-done; resp == nil || len(resp.Answer) != 1 {
		t.Errorf("after release got %v, want one A record", resp)
	}
	if got := srv.Queries(); got != 1 {
		t.Errorf("Queries = %d, want 1", got)
	}
}

func TestHoldReleasedAtCleanup(t *testing.T) {
	// A held query left pending must not stop the server from shutting down.
	t.Run("inner", func(t *testing.T) {
		srv := dnstest.Start(t, nil)
		srv.Hold("never.test.")
		go func() { _, _ = tryAsk(srv, "udp", "never.test.", dns.TypeA, time.Second) }()
		for srv.Queries() == 0 {
			time.Sleep(time.Millisecond)
		}
	})
}
