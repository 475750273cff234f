package mx_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
)

func TestLookupMX(t *testing.T) {
	srv := dnstest.Start(t, nil)
	// sorted: answered out of order, returned by preference
	srv.AddMX("sorted.test.", 30, "mx3.sorted.test.")
	srv.AddMX("sorted.test.", 10, "MX1.Sorted.Test.")
	srv.AddMX("sorted.test.", 20, "mx2.sorted.test.")
	// ties: equal preferences ordered by name
	srv.AddMX("ties.test.", 10, "b.ties.test.")
	srv.AddMX("ties.test.", 10, "a.ties.test.")
	srv.AddMX("ties.test.", 5, "z.ties.test.")
	srv.AddMX("dup.test.", 20, "mx.dup.test.")
	srv.AddMX("dup.test.", 10, "mx.dup.test.")
	srv.AddMX("null.test.", 0, ".")
	srv.AddMX("nullten.test.", 10, ".")
	srv.AddMX("mixed.test.", 0, ".")
	srv.AddMX("mixed.test.", 10, "mx.mixed.test.")
	srv.AddA("implicit4.test.", "127.0.0.2")
	srv.AddAAAA("implicit6.test.", "::1")
	srv.AddRR(dnstest.RR(t, "nomail.test. 300 IN TXT \"v=spf1 -all\""))
	srv.AddCNAME("alias.test.", "mid.test.")
	srv.AddCNAME("mid.test.", "sorted.test.")
	srv.AddCNAME("dangling.test.", "gone.test.")
	srv.AddCNAME("implicitalias.test.", "implicit4.test.")

	sorted := mx.Records{Hosts: []mx.Host{
		{"mx1.sorted.test.", 10}, {"mx2.sorted.test.", 20}, {"mx3.sorted.test.", 30},
	}}
	tests := []struct {
		name    string
		domain  string
		want    mx.Records
		wantErr error
	}{
		{"sorted", "sorted.test", sorted, nil},
		{"trailing dot and case", "SORTED.test.", sorted, nil},
		{"ties", "ties.test", mx.Records{Hosts: []mx.Host{
			{"z.ties.test.", 5}, {"a.ties.test.", 10}, {"b.ties.test.", 10},
		}}, nil},
		{"duplicate host keeps best preference", "dup.test", mx.Records{Hosts: []mx.Host{{"mx.dup.test.", 10}}}, nil},
		{"null mx", "null.test", mx.Records{Null: true}, nil},
		{"lone dot with other preference", "nullten.test", mx.Records{Null: true}, nil},
		{"dot mixed with hosts is ignored", "mixed.test", mx.Records{Hosts: []mx.Host{{"mx.mixed.test.", 10}}}, nil},
		{"implicit via A", "implicit4.test", mx.Records{Hosts: []mx.Host{{"implicit4.test.", 0}}, Implicit: true}, nil},
		{"implicit via AAAA only", "implicit6.test", mx.Records{Hosts: []mx.Host{{"implicit6.test.", 0}}, Implicit: true}, nil},
		{"implicit via alias", "implicitalias.test", mx.Records{Hosts: []mx.Host{{"implicitalias.test.", 0}}, Implicit: true}, nil},
		{"cname chain", "alias.test", sorted, nil},
		{"nxdomain", "missing.test", mx.Records{}, mx.ErrNXDomain},
		{"cname to nowhere", "dangling.test", mx.Records{}, mx.ErrNXDomain},
		{"no mx no address", "nomail.test", mx.Records{}, mx.ErrNoMail},
		{"malformed", "a..b", mx.Records{}, mx.ErrNXDomain},
		{"empty", "", mx.Records{}, mx.ErrNXDomain},
	}
	r := newResolver(t, mx.Config{}, srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.LookupMX(context.Background(), tt.domain)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LookupMX(%q) error = %v, want %v", tt.domain, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LookupMX(%q) = %+v, want %+v", tt.domain, got, tt.want)
			}
		})
	}
}

func TestLookupMXFollowsBareCNAME(t *testing.T) {
	// A server that returns only the CNAME makes the resolver ask again for
	// the target.
	srv := dnstest.Start(t, nil)
	srv.ChaseCNAME(false)
	srv.AddCNAME("alias.test.", "mid.test.")
	srv.AddCNAME("mid.test.", "real.test.")
	srv.AddMX("real.test.", 10, "mx.real.test.")
	srv.AddCNAME("loop1.test.", "loop2.test.")
	srv.AddCNAME("loop2.test.", "loop1.test.")
	r := newResolver(t, mx.Config{}, srv)

	got, err := r.LookupMX(context.Background(), "alias.test")
	want := mx.Records{Hosts: []mx.Host{{"mx.real.test.", 10}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LookupMX = %+v, %v; want %+v", got, err, want)
	}
	for _, name := range []string{"alias.test.", "mid.test.", "real.test."} {
		if n := srv.QueriesFor(name, dns.TypeMX); n != 1 {
			t.Errorf("MX queries for %s = %d, want 1", name, n)
		}
	}

	_, err = r.LookupMX(context.Background(), "loop1.test")
	var re *mx.ResolveError
	if !errors.As(err, &re) {
		t.Errorf("CNAME loop: error = %v, want *ResolveError", err)
	}
}

func TestLookupMXResolveError(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(*dnstest.Server)
		wantRcode   int
		wantTimeout bool
	}{
		{"servfail", func(s *dnstest.Server) { s.SetRcode("bad.test.", dns.RcodeServerFailure) }, dns.RcodeServerFailure, false},
		{"refused", func(s *dnstest.Server) { s.SetRcode("bad.test.", dns.RcodeRefused) }, dns.RcodeRefused, false},
		{"dropped query times out", func(s *dnstest.Server) { s.Drop("bad.test.") }, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := dnstest.Start(t, nil)
			tt.setup(srv)
			r := newResolver(t, mx.Config{Timeout: 50 * time.Millisecond, Attempts: 2}, srv)
			_, err := r.LookupMX(context.Background(), "bad.test")
			var re *mx.ResolveError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v, want *ResolveError", err)
			}
			if re.Rcode != tt.wantRcode || re.Timeout() != tt.wantTimeout {
				t.Errorf("Rcode = %d, Timeout() = %v; want %d, %v (%v)", re.Rcode, re.Timeout(), tt.wantRcode, tt.wantTimeout, err)
			}
			if errors.Is(err, mx.ErrNXDomain) || errors.Is(err, mx.ErrNoMail) {
				t.Errorf("resolver failure %v reads as a negative answer", err)
			}
			// Every attempt went to the server: UDP is retried on silence
			// but not on an rcode.
			want := 1
			if tt.wantTimeout {
				want = 2
			}
			waitFor(func() bool { return srv.QueriesFor("bad.test.", dns.TypeMX) >= want })
			if n := srv.QueriesFor("bad.test.", dns.TypeMX); n != want {
				t.Errorf("queries = %d, want %d", n, want)
			}
		})
	}
}

// TestImplicitMXSharesAddressLookup checks that the address lookup behind
// an implicit MX is LookupIP's, cached as one: the SMTP step that then
// resolves the exchanger sends no query of its own.
func TestImplicitMXSharesAddressLookup(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddA("implicit4.test.", "127.0.0.2")
	srv.AddAAAA("implicit6.test.", "::1")
	srv.AddRR(dnstest.RR(t, "nomail.test. 300 IN TXT \"v=spf1 -all\""))
	tests := []struct {
		domain  string
		wantErr error // of both lookups: ErrNoMail, then ErrNoAddress
		ipErr   error
	}{
		{"implicit4.test", nil, nil},
		{"implicit6.test", nil, nil},
		{"nomail.test", mx.ErrNoMail, mx.ErrNoAddress},
	}
	r := newResolver(t, mx.Config{}, srv)
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			ctx := context.Background()
			if _, err := r.LookupMX(ctx, tt.domain); !errors.Is(err, tt.wantErr) {
				t.Fatalf("LookupMX error = %v, want %v", err, tt.wantErr)
			}
			if _, err := r.LookupIP(ctx, tt.domain+"."); !errors.Is(err, tt.ipErr) {
				t.Fatalf("LookupIP error = %v, want %v", err, tt.ipErr)
			}
			for _, qtype := range []uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA} {
				if n := srv.QueriesFor(tt.domain+".", qtype); n != 1 {
					t.Errorf("%s queries = %d, want 1", dns.TypeToString[qtype], n)
				}
			}
		})
	}
}
