//go:build unix

package engine_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/politeness"
	"github.com/mailprobe/mailprobe/internal/testenv/serverproc"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// serverProcessEnv makes TestBenchServerProcess serve instead of skipping.
const serverProcessEnv = "MAILPROBE_BENCH_SERVER_PROCESS"

// serverDelayEnv sets the SMTP server's delay before each reply.
const serverDelayEnv = "MAILPROBE_BENCH_SERVER_DELAY"

// serverWorld is what the server process tells the benchmark: where its
// DNS server and SOCKS5 proxy listen, and the port of the MX of the one
// domain, cpu.bench.test.
type serverWorld struct {
	DNS   string
	Proxy string
	Port  int
}

// TestBenchServerProcess is not a test but the other half of
// BenchmarkEngineCPU, which runs this binary again with only this test
// selected: the DNS, SOCKS5 and SMTP servers then burn their CPU in a
// process of their own. It writes the serverWorld as one JSON line, then
// answers each line read from stdin with the CPU time it has used so far
// (nanoseconds), and returns when stdin closes.
func TestBenchServerProcess(t *testing.T) {
	if !serverproc.Child(serverProcessEnv) {
		t.Skip("the server half of BenchmarkEngineCPU")
	}
	e := newEnv(t)
	// BenchmarkConcurrent1000 asks for a delay before each reply, so that
	// its verifications are all in flight at once.
	delay, _ := time.ParseDuration(os.Getenv(serverDelayEnv))
	srv := e.mailServer(t, "cpu.bench.test", smtptest.Options{Pipelining: true, Mailbox: mailbox, Delay: delay})
	serverproc.Serve(t, serverWorld{DNS: e.dns.Addr, Proxy: e.proxy.URL(), Port: srv.Port()})
}

// serverProcess is the running other half of BenchmarkEngineCPU.
type serverProcess struct {
	world serverWorld
	*serverproc.Proc
}

// startServerProcess runs TestBenchServerProcess in a child process and
// stops it when the benchmark ends.
func startServerProcess(b *testing.B) *serverProcess {
	b.Helper()
	p := &serverProcess{}
	p.Proc = serverproc.Start(b, "TestBenchServerProcess", serverProcessEnv, &p.world)
	return p
}

// verifier builds a verifier for the server process's world, configured
// as BenchmarkVerify's.
func (p *serverProcess) verifier(b *testing.B, mutate ...func(*engine.Config)) *engine.Verifier {
	b.Helper()
	res, err := mx.New(mx.Config{Servers: []string{p.world.DNS}, Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	proxy, err := dialer.ParseProxyURL(p.world.Proxy)
	if err != nil {
		b.Fatal(err)
	}
	cfg := engine.Config{
		BackendName:    "bench",
		Resolver:       res,
		Proxies:        []dialer.Proxy{proxy},
		AllowPrivateMX: true,
		Defaults: engine.SMTPSettings{Timeout: 30 * time.Second, FromEmail: "probe@mailprobe.test",
			HelloName: "mailprobe.test"},
		Limiter: politeness.NewLocal(politeness.LocalConfig{SessionsPerHost: 2, RcptsPerMinute: politeness.Unlimited}),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := engine.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkEngineCPU is BenchmarkVerify with the loopback DNS, SOCKS5 and
// SMTP servers in a child process, so that this process's CPU time
// (getrusage) is the engine's own plus the benchmark loop: cpu-µs/addr is
// the engine's CPU per verification without network waits, and
// server-cpu-µs/addr what the servers spent for it. Each op verifies one
// address (per-address) or 50 (batch-50, one VerifyBatch call).
func BenchmarkEngineCPU(b *testing.B) {
	p := startServerProcess(b)
	v := p.verifier(b)
	reqs := make([]engine.Request, 50)
	safe := 0
	for i := range reqs {
		reqs[i] = engine.Request{ToEmail: fmt.Sprintf("u%d@cpu.bench.test", i), SMTPPort: p.world.Port}
		if i%10 < 7 {
			safe++
		}
	}
	ctx := context.Background()
	modes := []struct {
		name  string
		addrs int
		run   func(i int) error
	}{
		{"per-address", 1, func(i int) error {
			i %= len(reqs)
			r, err := v.Verify(ctx, reqs[i])
			if err == nil && (i%10 < 7) != (r.IsReachable == engine.Safe) {
				err = fmt.Errorf("%s is %s", reqs[i].ToEmail, r.IsReachable)
			}
			return err
		}},
		{"batch-50", len(reqs), func(int) error {
			rs, err := v.VerifyBatch(ctx, reqs)
			n := 0
			for _, r := range rs {
				if r.IsReachable == engine.Safe {
					n++
				}
			}
			if err == nil && n != safe {
				err = fmt.Errorf("%d safe addresses, want %d", n, safe)
			}
			return err
		}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			if err := m.run(0); err != nil { // warm the DNS cache
				b.Fatal(err)
			}
			srvCPU := p.CPU(b)
			user, sys := serverproc.CPUTimes()
			for i := 0; b.Loop(); i++ {
				if err := m.run(i); err != nil {
					b.Fatal(err)
				}
			}
			user2, sys2 := serverproc.CPUTimes()
			user, sys, srvCPU = user2-user, sys2-sys, p.CPU(b)-srvCPU
			n := float64(b.N * m.addrs)
			b.ReportMetric(float64((user+sys).Nanoseconds())/1e3/n, "cpu-µs/addr")
			b.ReportMetric(float64(user.Nanoseconds())/1e3/n, "user-µs/addr")
			b.ReportMetric(float64(sys.Nanoseconds())/1e3/n, "sys-µs/addr")
			b.ReportMetric(float64(srvCPU.Nanoseconds())/1e3/n, "server-cpu-µs/addr")
		})
	}
}
