// Package dnstest runs a real DNS server on the loopback interface for tests.
//
// The server answers over UDP and TCP on the same 127.0.0.1 port, from
// records that a test adds while the server runs. It can fail, truncate, drop
// or hold queries per name, so that callers can test their resolver code
// against real packets instead of a mock:
//
//	srv := dnstest.Start(t, nil)
//	srv.AddMX("example.test.", 10, "mx.example.test.")
//	srv.AddA("mx.example.test.", "127.0.0.2")
//	// point the resolver under test at srv.Addr
package dnstest

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL, in seconds, of records added by the Add helpers until
// SetTTL changes it.
const DefaultTTL = 300

// DefaultNegativeTTL is the SOA MINIMUM and SOA TTL, in seconds, sent with
// NXDOMAIN and NODATA answers until SetNegativeTTL changes it.
const DefaultNegativeTTL = 60

// Zone is the initial content of a server: owner name to records. A record
// whose header name is empty takes the key as its owner name.
type Zone map[string][]dns.RR

// Server is a running DNS server. Its methods are safe to call while it
// serves queries; the Add helpers report bad input with tb.Fatalf and so must
// be called from the test's goroutine.
type Server struct {
	// Addr is "127.0.0.1:port", the same port for UDP and TCP.
	Addr string

	tb  testing.TB
	udp *dns.Server
	tcp *dns.Server

	mu        sync.Mutex
	records   map[string][]dns.RR
	rcodes    map[string]int
	truncated map[string]bool
	dropped   map[string]bool
	holds     map[string]*hold
	ttl       uint32
	negTTL    uint32
	noChase   bool
	queries   int
	perName   map[queryKey]int
}

type queryKey struct {
	name  string
	qtype uint16
}

// hold is a gate that blocks queries until it is released once.
type hold struct {
	ch   chan struct{}
	once sync.Once
}

func (h *hold) release() { h.once.Do(func() { close(h.ch) }) }

// Start starts a server on 127.0.0.1 serving zone (which may be nil) and shuts
// it down when the test ends.
func Start(tb testing.TB, zone Zone) *Server {
	tb.Helper()
	s := &Server{
		tb:        tb,
		records:   make(map[string][]dns.RR),
		rcodes:    make(map[string]int),
		truncated: make(map[string]bool),
		dropped:   make(map[string]bool),
		holds:     make(map[string]*hold),
		perName:   make(map[queryKey]int),
		ttl:       DefaultTTL,
		negTTL:    DefaultNegativeTTL,
	}
	for key, rrs := range zone {
		for _, rr := range rrs {
			if rr.Header().Name == "" {
				rr.Header().Name = key
			}
			if dns.CanonicalName(rr.Header().Name) != dns.CanonicalName(key) {
				tb.Fatalf("dnstest: record %q filed under %q", rr.String(), key)
			}
			s.AddRR(rr)
		}
	}
	pc, ln := listenPair(tb)
	s.Addr = pc.LocalAddr().String()

	// A mux per server: the package-level DefaultServeMux would be shared by
	// every server in the test binary.
	mux := dns.NewServeMux()
	mux.HandleFunc(".", s.serveDNS)
	s.udp = &dns.Server{PacketConn: pc, Handler: mux}
	s.tcp = &dns.Server{Listener: ln, Handler: mux}
	serve(tb, s.udp)
	serve(tb, s.tcp)
	tb.Cleanup(s.shutdown)
	return s
}

// listenPair opens a UDP socket and a TCP listener on one loopback port.
// The kernel picks a free UDP port, which may be taken for TCP, so it retries.
func listenPair(tb testing.TB) (net.PacketConn, net.Listener) {
	tb.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("dnstest: listen udp: %v", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return pc, ln
		}
		lastErr = err
		pc.Close()
	}
	tb.Fatalf("dnstest: no port free for both udp and tcp: %v", lastErr)
	return nil, nil
}

// serve starts srv and waits until it is ready, so that the first query of a
// test cannot race the listener's start.
func serve(tb testing.TB, srv *dns.Server) {
	tb.Helper()
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() {
		if err := srv.ActivateAndServe(); err != nil {
			failed <- err
		}
	}()
	select {
	case <-started:
	case err := <-failed:
		tb.Fatalf("dnstest: serve: %v", err)
	}
}

func (s *Server) shutdown() {
	// Held queries keep handler goroutines alive, and Shutdown waits for
	// them: release every gate first.
	s.mu.Lock()
	for _, h := range s.holds {
		h.release()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if err := srv.ShutdownContext(ctx); err != nil {
			s.tb.Logf("dnstest: shutdown: %v", err)
		}
	}
}

// Queries reports how many queries the server has received, over both
// transports, including dropped and held ones.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// QueriesFor reports how many queries for name and qtype (dns.TypeMX, ...) the
// server has received.
func (s *Server) QueriesFor(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perName[queryKey{dns.CanonicalName(name), qtype}]
}
