package mx_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
)

func TestCache(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, s *dnstest.Server)
		wantErr error
		// fresh is still cached, stale is past its TTL.
		fresh, stale time.Duration
	}{
		{"positive: lowest TTL of the RRset", func(t *testing.T, s *dnstest.Server) {
			s.AddRR(dnstest.RR(t, "c.test. 300 IN MX 10 mx1.c.test."))
			s.AddRR(dnstest.RR(t, "c.test. 100 IN MX 20 mx2.c.test."))
		}, nil, 99 * time.Second, 100 * time.Second},
		{"positive: CNAME TTL counts", func(t *testing.T, s *dnstest.Server) {
			s.AddRR(dnstest.RR(t, "c.test. 50 IN CNAME real.c.test."))
			s.AddRR(dnstest.RR(t, "real.c.test. 300 IN MX 10 mx.c.test."))
		}, nil, 49 * time.Second, 50 * time.Second},
		{"implicit: A TTL", func(t *testing.T, s *dnstest.Server) {
			s.AddRR(dnstest.RR(t, "c.test. 40 IN A 127.0.0.2"))
		}, nil, 39 * time.Second, 40 * time.Second},
		{"implicit: MX negative TTL", func(t *testing.T, s *dnstest.Server) {
			s.AddRR(dnstest.RR(t, "c.test. 400 IN A 127.0.0.2"))
			s.SetNegativeTTL(30)
		}, nil, 29 * time.Second, 30 * time.Second},
		{"nxdomain: SOA minimum", func(t *testing.T, s *dnstest.Server) {
			s.SetNegativeTTL(20)
		}, mx.ErrNXDomain, 19 * time.Second, 20 * time.Second},
		{"nxdomain: capped at one hour", func(t *testing.T, s *dnstest.Server) {
			s.SetNegativeTTL(86400)
		}, mx.ErrNXDomain, time.Hour - time.Second, time.Hour},
		{"no mail: SOA minimum", func(t *testing.T, s *dnstest.Server) {
			s.AddRR(dnstest.RR(t, "c.test. 300 IN TXT x"))
			s.SetNegativeTTL(10)
		}, mx.ErrNoMail, 9 * time.Second, 10 * time.Second},
		{"zero TTL is not cached", func(t *testing.T, s *dnstest.Server) {
			s.AddRR(dnstest.RR(t, "c.test. 0 IN MX 10 mx.c.test."))
		}, nil, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := dnstest.Start(t, nil)
			tt.setup(t, srv)
			clk := newClock()
			r := newResolver(t, mx.Config{Now: clk.Now}, srv)
			lookup := func() {
				t.Helper()
				if _, err := r.LookupMX(context.Background(), "c.test"); !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
			}
			lookup()
			n := srv.Queries()
			if tt.fresh >= 0 {
				clk.Advance(tt.fresh)
				lookup()
				if got := srv.Queries(); got != n {
					t.Fatalf("within TTL: queries went from %d to %d, want a cache hit", n, got)
				}
			}
			clk.Advance(tt.stale - max(tt.fresh, 0))
			lookup()
			if got := srv.Queries(); got == n {
				t.Errorf("after TTL: no new query, want the entry expired")
			}
		})
	}
}

func TestResolveErrorsAreNotCached(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddMX("flaky.test.", 10, "mx.flaky.test.")
	srv.SetRcode("flaky.test.", dns.RcodeServerFailure)
	r := newResolver(t, mx.Config{}, srv)

	var re *mx.ResolveError
	if _, err := r.LookupMX(context.Background(), "flaky.test"); !errors.As(err, &re) {
		t.Fatalf("error = %v, want *ResolveError", err)
	}
	srv.Remove("flaky.test.")
	srv.AddMX("flaky.test.", 10, "mx.flaky.test.")
	if _, err := r.LookupMX(context.Background(), "flaky.test"); err != nil {
		t.Fatalf("after recovery: error = %v, want success", err)
	}
}

func TestCacheBounds(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		wantAgain int // queries when looking up a.test again after b.test and c.test
	}{
		{"evicts least recently used", 2, 1},
		{"large enough", 3, 0},
		{"disabled", -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := dnstest.Start(t, nil)
			for _, d := range []string{"a.test.", "b.test.", "c.test."} {
				srv.AddMX(d, 10, "mx."+d)
			}
			r := newResolver(t, mx.Config{CacheSize: tt.size}, srv)
			for _, d := range []string{"a.test", "b.test", "c.test"} {
				if _, err := r.LookupMX(context.Background(), d); err != nil {
					t.Fatal(err)
				}
			}
			before := srv.Queries()
			if _, err := r.LookupMX(context.Background(), "a.test"); err != nil {
				t.Fatal(err)
			}
			if got := srv.Queries() - before; got != tt.wantAgain {
				t.Errorf("queries for a.test again = %d, want %d", got, tt.wantAgain)
			}
		})
	}
}

func TestCachedRecordsAreCopies(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddMX("copy.test.", 10, "mx.copy.test.")
	r := newResolver(t, mx.Config{}, srv)
	got, err := r.LookupMX(context.Background(), "copy.test")
	if err != nil {
		t.Fatal(err)
	}
	got.Hosts[0].Name = "changed."
	again, _ := r.LookupMX(context.Background(), "copy.test")
	if again.Hosts[0].Name != "mx.copy.test." {
		t.Errorf("cached host changed to %q by a caller", again.Hosts[0].Name)
	}
}

func TestConcurrentLookupsDeduplicated(t *testing.T) {
	srv := dnstest.Start(t, nil)
	srv.AddMX("popular.test.", 10, "mx.popular.test.")
	// Hold the first query at the server so that every caller arrives while
	// it is in flight.
	release := srv.Hold("popular.test.")
	r := newResolver(t, mx.Config{}, srv)

	const callers = 50
	var started, wg sync.WaitGroup
	started.Add(callers)
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			started.Done()
			_, err := r.LookupMX(context.Background(), "popular.test")
			errs <- err
		})
	}
	started.Wait()
	waitFor(func() bool { return srv.QueriesFor("popular.test.", dns.TypeMX) > 0 })
	// Give the callers time to reach the lookup while the query is held.
	// Without merging, each would send its own query; one arriving after the
	// release finds the answer cached, so the count stays exact either way.
	time.Sleep(50 * time.Millisecond)
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("LookupMX: %v", err)
		}
	}
	if n := srv.QueriesFor("popular.test.", dns.TypeMX); n != 1 {
		t.Errorf("queries = %d for %d concurrent lookups, want 1", n, callers)
	}
}
