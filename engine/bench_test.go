//go:build unix

package engine_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/politeness"
	"github.com/mailprobe/mailprobe/internal/testenv/serverproc"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// rtt is the simulated round trip to a remote MX: every server waits this
// long before each batch of replies.
const rtt = 20 * time.Millisecond

// bulk is a benchmark's mail world: domains, each with its own MX host and
// server, behind the authenticating SOCKS5 proxy, and the requests.
type bulk struct {
	env     *env
	domains [][]engine.Request // the requests of each domain
	exists  int                // how many of them name a real mailbox
}

// mailbox accepts local parts u<n> with n%10 < 7: 70% of a list exists,
// and the catch-all probe is refused.
func mailbox(rcpt string) string {
	var n int
	if _, err := fmt.Sscanf(rcpt, "u%d@", &n); err == nil && n%10 < 7 {
		return "250 2.1.5 OK"
	}
	return "550 5.1.1 user unknown"
}

func newBulk(b *testing.B, domains, perDomain int, delay time.Duration) *bulk {
	w := &bulk{env: newEnv(b)}
	for d := range domains {
		name := fmt.Sprintf("d%02d.bench.test", d)
		srv := w.env.mailServer(b, name, smtptest.Options{Delay: delay, Pipelining: true, Mailbox: mailbox})
		reqs := make([]engine.Request, perDomain)
		for i := range reqs {
			reqs[i] = engine.Request{ToEmail: fmt.Sprintf("u%d@%s", i, name), SMTPPort: srv.Port()}
			if i%10 < 7 {
				w.exists++
			}
		}
		w.domains = append(w.domains, reqs)
	}
	return w
}

func (w *bulk) verifier(b *testing.B, pipelining bool) *engine.Verifier {
	return w.env.verifier(b, func(c *engine.Config) {
		c.Defaults.Timeout = 30 * time.Second
		c.DisablePipelining = !pipelining
		c.Limiter = politeness.NewLocal(politeness.LocalConfig{SessionsPerHost: 2, RcptsPerMinute: politeness.Unlimited})
	})
}

// perAddress verifies every address with Verify, two at a time per
// domain: one connection per address, the Reacher way, at the cap.
func (w *bulk) perAddress(ctx context.Context, v *engine.Verifier, safe *atomic.Int64) {
	var wg sync.WaitGroup
	for _, reqs := range w.domains {
		for half := range 2 {
			wg.Go(func() {
				for i := half; i < len(reqs); i += 2 {
					if r, err := v.Verify(ctx, reqs[i]); err == nil && r.IsReachable == engine.Safe {
						safe.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
}

// batched verifies each domain with one VerifyBatch call, all at once.
func (w *bulk) batched(ctx context.Context, v *engine.Verifier, safe *atomic.Int64) {
	var wg sync.WaitGroup
	for _, reqs := range w.domains {
		wg.Go(func() {
			rs, _ := v.VerifyBatch(ctx, reqs)
			for _, r := range rs {
				if r.IsReachable == engine.Safe {
					safe.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkBulk is the figure: 1 000 addresses over 20 domains,
// each its own MX host answering after 20 ms, through the SOCKS5 proxy,
// two sessions per MX host at most. One op verifies all 1 000.
//
// Expect, per address, one connection with 5.7 replies on average
// (banner, EHLO, MAIL, RCPT, the catch-all RCPT for the 70% that exist,
// QUIT) against about 1.2 with session reuse (one RCPT, plus banner,
// EHLO, MAIL and QUIT shared by 25): without pipelining the speed-up is
// bounded by 5.7/1.2 ≈ 4.8. Pipelining sends the 25 RCPTs in one round
// trip, so a domain takes about six round trips.
func BenchmarkBulk(b *testing.B) {
	w := newBulk(b, 20, 50, rtt)
	modes := []struct {
		name       string
		pipelining bool
		run        func(*bulk, context.Context, *engine.Verifier, *atomic.Int64)
	}{
		{"per-address", false, (*bulk).perAddress},
		{"session-reuse", false, (*bulk).batched},
		{"pipelined", true, (*bulk).batched},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			v := w.verifier(b, m.pipelining)
			total := 0
			for _, d := range w.domains {
				total += len(d)
			}
			for b.Loop() {
				var safe atomic.Int64
				m.run(w, context.Background(), v, &safe)
				if int(safe.Load()) != w.exists {
					b.Fatalf("%d safe addresses, want %d", safe.Load(), w.exists)
				}
			}
			b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "addresses/s")
		})
	}
}

// BenchmarkVerifyLatency is one probe of an existing mailbox through the
// proxy, the server answering after 20 ms each time. Its floor: TCP
// connect and SOCKS5 on loopback (well under a millisecond), then six
// server replies: banner, EHLO, MAIL, RCPT, the catch-all RCPT, QUIT —
// 6 × 20 ms = 120 ms. x-floor is the measured time over that floor.
func BenchmarkVerifyLatency(b *testing.B) {
	w := newBulk(b, 1, 1, rtt)
	v := w.verifier(b, true)
	req := w.domains[0][0]
	if _, err := v.Verify(context.Background(), req); err != nil { // warm the DNS cache
		b.Fatal(err)
	}
	for b.Loop() {
		if r, err := v.Verify(context.Background(), req); err != nil || r.IsReachable != engine.Safe {
			b.Fatalf("Verify = %s, %v", r.IsReachable, err)
		}
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(time.Millisecond), "ms/op")
	b.ReportMetric(float64(per)/float64(6*rtt), "x-floor")
}

// BenchmarkVerify measures the cost of a verification without network
// delay: loopback servers behind the proxy. CPU time (getrusage) and
// allocations are the whole process's, test SMTP, SOCKS5 and DNS servers
// included, so they bound the engine's own from above; both are reported
// per address (batch-50 verifies 50 per op).
func BenchmarkVerify(b *testing.B) {
	w := newBulk(b, 1, 50, 0)
	v := w.verifier(b, true)
	reqs := w.domains[0]
	modes := []struct {
		name  string
		addrs int
		run   func(i int) error
	}{
		{"per-address", 1, func(i int) error {
			_, err := v.Verify(context.Background(), reqs[i%len(reqs)])
			return err
		}},
		{"batch-50", len(reqs), func(int) error {
			_, err := v.VerifyBatch(context.Background(), reqs)
			return err
		}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu := serverproc.CPUTime()
			for i := 0; b.Loop(); i++ {
				if err := m.run(i); err != nil {
					b.Fatal(err)
				}
			}
			cpu = serverproc.CPUTime() - cpu
			runtime.ReadMemStats(&after)
			n := float64(b.N * m.addrs)
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/addr")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/addr")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/addr")
		})
	}
}

// BenchmarkConcurrent1000 runs 1 000 Verify calls at once against loopback
// servers in a child process (20 ms per reply, so they overlap, and no
// per-MX limit, so all 1 000 sessions are open together) and reports the peak
// heap in use, sampled every millisecond, and the process's peak RSS. The
// RSS is the process's high-water mark: run this benchmark alone
// (-run '^$' -bench Concurrent1000) for a figure of its own.
func BenchmarkConcurrent1000(b *testing.B) {
	// The servers run in a child process: their buffers (the SOCKS5 proxy
	// alone copies through 64 KiB per connection) must not count as ours.
	b.Setenv(serverDelayEnv, rtt.String())
	p := startServerProcess(b)
	v := p.verifier(b, func(c *engine.Config) { c.Limiter = nil })
	reqs := make([]engine.Request, 1000)
	for i := range reqs {
		reqs[i] = engine.Request{ToEmail: fmt.Sprintf("u%d@cpu.bench.test", i), SMTPPort: p.world.Port}
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	for b.Loop() {
		var wg sync.WaitGroup
		var failed atomic.Int64
		for _, r := range reqs {
			wg.Go(func() {
				if res, err := v.Verify(context.Background(), r); err != nil || res.SMTP.Err != nil {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d of %d verifications failed", n, len(reqs))
		}
	}
	close(stop)
	<-done
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB") // Linux reports KiB
}
