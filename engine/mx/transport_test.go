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

func TestTruncatedUDPRetriedOverTCP(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddMX("big.test.", 10, "mx.big.test.")
	srv.Truncate("big.test.")
	r := newResolver(t, mx.Config{}, srv)

	got, err := r.LookupMX(context.Background(), "big.test")
	want := mx.Records{Hosts: []mx.Host{{"mx.big.test.", 10}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LookupMX = %+v, %v; want %+v", got, err, want)
	}
	// The UDP answer is empty with TC set, so the records can only have come
	// over TCP: one query on each transport.
	if n := srv.QueriesFor("big.test.", dns.TypeMX); n != 2 {
		t.Errorf("queries = %d, want 2 (udp then tcp)", n)
	}
}

func TestFailover(t *testing.T) {
	tests := []struct {
		name  string
		first func(t *testing.T) string
	}{
		{"servfail", func(t *testing.T) string {
			s := dnstest.Start(t, nil)
			s.SetRcode("fail.test.", dns.RcodeServerFailure)
			return s.Addr
		}},
		{"refused", func(t *testing.T) string {
			s := dnstest.Start(t, nil)
			s.SetRcode("fail.test.", dns.RcodeRefused)
			return s.Addr
		}},
		{"silent", func(t *testing.T) string {
			s := dnstest.Start(t, nil)
			s.Drop("fail.test.")
			return s.Addr
		}},
		{"nothing listening", func(t *testing.T) string { return closedAddr(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			second := dnstest.Start(t, nil)
			second.AddMX("fail.test.", 10, "mx.fail.test.")
			r, err := mx.New(mx.Config{
				Servers:  []string{tt.first(t), second.Addr},
				Timeout:  50 * time.Millisecond,
				Attempts: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.LookupMX(context.Background(), "fail.test")
			want := mx.Records{Hosts: []mx.Host{{"mx.fail.test.", 10}}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("LookupMX = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

func TestAllServersFail(t *testing.T) {
	a := dnstest.Start(t, nil)
	a.SetRcode("fail.test.", dns.RcodeServerFailure)
	b := dnstest.Start(t, nil)
	b.SetRcode("fail.test.", dns.RcodeRefused)
	r := newResolver(t, mx.Config{}, a, b)

	_, err := r.LookupMX(context.Background(), "fail.test")
	var re *mx.ResolveError
	if !errors.As(err, &re) || re.Rcode != dns.RcodeRefused {
		t.Fatalf("error = %v, want *ResolveError with the last server's REFUSED", err)
	}
	if a.Queries() != 1 || b.Queries() != 1 {
		t.Errorf("queries = %d, %d; want 1 each", a.Queries(), b.Queries())
	}
}

func TestContextCancel(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.Drop("slow.test.")
	// A long per-query timeout: only the cancellation can end the lookup.
	r := newResolver(t, mx.Config{Timeout: time.Hour}, srv)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := r.LookupMX(ctx, "slow.test")
		done <- err
	}()
	waitFor(func() bool { return srv.QueriesFor("slow.test.", dns.TypeMX) > 0 })
	cancel()
	err := <-done
	var re *mx.ResolveError
	if !errors.As(err, &re) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want *ResolveError wrapping context.Canceled", err)
	}

	// An already-cancelled context sends nothing.
	before := srv.Queries()
	if _, err := r.LookupMX(ctx, "other.test"); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if srv.Queries() != before {
		t.Errorf("a query was sent with a cancelled context")
	}
}

func TestCallerGivingUpDoesNotFailOthers(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddMX("shared.test.", 10, "mx.shared.test.")
	release := srv.Hold("shared.test.")
	r := newResolver(t, mx.Config{}, srv)

	impatient, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() {
		_, err := r.LookupMX(impatient, "shared.test")
		first <- err
	}()
	waitFor(func() bool { return srv.QueriesFor("shared.test.", dns.TypeMX) > 0 })
	second := make(chan error)
	go func() {
		_, err := r.LookupMX(context.Background(), "shared.test")
		second <- err
	}()
	// The first caller gives up; the lookup it started must go on for the
	// second. Whether the second joined it or started its own, it succeeds.
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: error = %v, want context.Canceled", err)
	}
	release()
	if err := <-second; err != nil {
		t.Errorf("second caller: error = %v, want success", err)
	}
}
