package mx_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
)

// clock is a settable clock for cache tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newResolver returns a resolver asking servers in order, with a timeout
// generous enough for a loaded machine unless cfg sets one.
func newResolver(t testing.TB, cfg mx.Config, servers ...*dnstest.Server) *mx.Resolver {
	t.Helper()
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, s.Addr)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	r, err := mx.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// closedAddr returns a loopback UDP address where nothing listens, so that
// queries to it fail at once with "connection refused".
func closedAddr(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// waitFor polls cond until it holds; the test's own deadline bounds it.
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

func startBenchServer(tb testing.TB) *dnstest.Server {
	srv := dnstest.Start(tb, nil)
	srv.AddMX("bench.test.", 10, "mx1.bench.test.")
	srv.AddMX("bench.test.", 20, "mx2.bench.test.")
	return srv
}
