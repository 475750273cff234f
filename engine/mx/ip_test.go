package mx_test

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
)

func TestLookupIP(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddA("dual.test.", "127.0.0.2")
	srv.AddA("dual.test.", "127.0.0.3")
	srv.AddAAAA("dual.test.", "::1")
	srv.AddAAAA("v6.test.", "fd00::25")
	srv.AddCNAME("alias.test.", "dual.test.")
	srv.AddMX("noaddr.test.", 10, "mx.noaddr.test.")
	srv.AddA("half.test.", "127.0.0.4")
	srv.AddCNAME("loop.test.", "loop.test.")

	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	tests := []struct {
		name    string
		host    string
		want    []netip.Addr
		wantErr error
	}{
		{"A and AAAA, IPv4 first", "dual.test.", addrs("127.0.0.2", "127.0.0.3", "::1"), nil},
		{"AAAA only", "V6.test", addrs("fd00::25"), nil},
		{"cname", "alias.test", addrs("127.0.0.2", "127.0.0.3", "::1"), nil},
		{"ipv4 literal", "127.0.0.9", addrs("127.0.0.9"), nil},
		{"ipv6 literal", "::ffff:127.0.0.1", addrs("127.0.0.1"), nil},
		{"nxdomain", "missing.test", nil, mx.ErrNXDomain},
		{"no address", "noaddr.test", nil, mx.ErrNoAddress},
		{"malformed", "a..b", nil, mx.ErrNXDomain},
	}
	r := newResolver(t, mx.Config{}, srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.LookupIP(context.Background(), tt.host)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LookupIP(%q) error = %v, want %v", tt.host, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LookupIP(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}

	t.Run("cname loop", func(t *testing.T) {
		_, err := r.LookupIP(context.Background(), "loop.test")
		var re *mx.ResolveError
		if !errors.As(err, &re) {
			t.Errorf("error = %v, want *ResolveError", err)
		}
	})
	t.Run("cached", func(t *testing.T) {
		before := srv.Queries()
		if _, err := r.LookupIP(context.Background(), "dual.test"); err != nil {
			t.Fatal(err)
		}
		if srv.Queries() != before {
			t.Errorf("queries went from %d to %d, want a cache hit", before, srv.Queries())
		}
	})
}

func TestLookupIPFailure(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddA("broken.test.", "127.0.0.2")
	srv.SetRcode("broken.test.", dns.RcodeServerFailure)
	r := newResolver(t, mx.Config{}, srv)
	_, err := r.LookupIP(context.Background(), "broken.test")
	var re *mx.ResolveError
	if !errors.As(err, &re) || re.Rcode != dns.RcodeServerFailure {
		t.Errorf("error = %v, want *ResolveError with SERVFAIL", err)
	}
}
