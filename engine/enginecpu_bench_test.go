//go:build unix

package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/politeness"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// serverProcessEnv makes TestBenchServerProcess serve instead of skipping.
const serverProcessEnv = "MAILPROBE_BENCH_SERVER_PROCESS"

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
	if os.Getenv(serverProcessEnv) != "1" {
		t.Skip("the server half of BenchmarkEngineCPU")
	}
	e := newEnv(t)
	srv := e.mailServer(t, "cpu.bench.test", smtptest.Options{Pipelining: true, Mailbox: mailbox})
	w := serverWorld{DNS: e.dns.Addr, Proxy: e.proxy.URL(), Port: srv.Port()}
	if err := json.NewEncoder(os.Stdout).Encode(w); err != nil {
		t.Fatal(err)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(int64(cpuTime()))
	}
}

// serverProcess is the running other half of BenchmarkEngineCPU.
type serverProcess struct {
	world serverWorld
	in    io.WriteCloser
	out   *bufio.Reader
}

// startServerProcess runs TestBenchServerProcess in a child process and
// stops it when the benchmark ends.
func startServerProcess(b *testing.B) *serverProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServerProcess$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), serverProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
	})
	p := &serverProcess{in: in, out: bufio.NewReader(out)}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("server process: %v", err)
	}
	if err := json.Unmarshal(line, &p.world); err != nil {
		b.Fatalf("server process said %q: %v", line, err)
	}
	return p
}

// cpu asks the server process for the CPU time it has used so far.
func (p *serverProcess) cpu(b *testing.B) time.Duration {
	b.Helper()
	if _, err := io.WriteString(p.in, "cpu\n"); err != nil {
		b.Fatal(err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		b.Fatalf("server process: %v", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		b.Fatalf("server process said %q: %v", line, err)
	}
	return time.Duration(ns)
}

// verifier builds a verifier for the server process's world, configured
// as BenchmarkVerify's.
func (p *serverProcess) verifier(b *testing.B) *engine.Verifier {
	b.Helper()
	res, err := mx.New(mx.Config{Servers: []string{p.world.DNS}, Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	proxy, err := dialer.ParseProxyURL(p.world.Proxy)
	if err != nil {
		b.Fatal(err)
	}
	v, err := engine.New(engine.Config{
		BackendName:    "bench",
		Resolver:       res,
		Proxies:        []dialer.Proxy{proxy},
		AllowPrivateMX: true,
		Defaults: engine.SMTPSettings{Timeout: 30 * time.Second, FromEmail: "probe@mailprobe.test",
			HelloName: "mailprobe.test"},
		Limiter: politeness.NewLocal(politeness.LocalConfig{SessionsPerHost: 2, RcptsPerMinute: politeness.Unlimited}),
	})
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
			srvCPU, cpu := p.cpu(b), cpuTime()
			for i := 0; b.Loop(); i++ {
				if err := m.run(i); err != nil {
					b.Fatal(err)
				}
			}
			cpu, srvCPU = cpuTime()-cpu, p.cpu(b)-srvCPU
			n := float64(b.N * m.addrs)
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/n, "cpu-µs/addr")
			b.ReportMetric(float64(srvCPU.Nanoseconds())/1e3/n, "server-cpu-µs/addr")
		})
	}
}
