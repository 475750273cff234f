//go:build unix

package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/serverproc"
	"github.com/mailprobe/mailprobe/internal/testenv/servetest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

const (
	// jobServersEnv makes TestJobServerProcess serve instead of skipping.
	jobServersEnv = "MAILPROBE_BENCH_JOB_SERVERS"
	// jobSizeEnv overrides the size of BenchmarkEmbeddedJob100k's job.
	jobSizeEnv = "MAILPROBE_BENCH_JOB_SIZE"
	// jobDomains is how many domains the job's addresses spread over,
	// each its own MX host name (politeness counts per MX host).
	jobDomains = 200
)

// jobWorld is what the server process tells the benchmark: where its DNS
// server and SOCKS5 proxy listen and the port of its SMTP server, the MX
// of every domain d<n>.job.test.
type jobWorld struct {
	DNS      string
	Proxy    string
	SMTPPort int
}

// jobMailbox accepts local parts u<n> with n%10 < 7, so 70% of the job is
// safe, and refuses everything else (the catch-all probe among them).
func jobMailbox(rcpt string) string {
	var n int
	if _, err := fmt.Sscanf(rcpt, "u%d@", &n); err == nil && n%10 < 7 {
		return smtptest.AcceptReply
	}
	return smtptest.UnknownReply
}

// TestJobServerProcess is not a test but the other half of
// BenchmarkEmbeddedJob100k, which runs this binary again with only this
// test selected, so that the DNS, SOCKS5 and SMTP servers' memory and CPU
// stay out of the figures. It writes the jobWorld as one JSON line, then
// answers each line read from stdin with the CPU time it has used so far
// (nanoseconds), and returns when stdin closes.
func TestJobServerProcess(t *testing.T) {
	if !serverproc.Child(jobServersEnv) {
		t.Skip("the server half of BenchmarkEmbeddedJob100k")
	}
	dns := dnstest.Start(t, nil)
	proxy := sockstest.Start(t, sockstest.Options{User: "u", Pass: "p"})
	srv := smtptest.Start(t, smtptest.Options{Pipelining: true, Mailbox: jobMailbox})
	for d := range jobDomains {
		dns.AddMX(fmt.Sprintf("d%d.job.test.", d), 10, fmt.Sprintf("mx.d%d.job.test.", d))
		dns.AddA(fmt.Sprintf("mx.d%d.job.test.", d), srv.Host())
	}
	serverproc.Serve(t, jobWorld{DNS: dns.Addr, Proxy: proxy.URL(), SMTPPort: srv.Port()})
}

// jobServers is the running other half of BenchmarkEmbeddedJob100k.
type jobServers struct {
	world jobWorld
	*serverproc.Proc
}

// startJobServers runs TestJobServerProcess in a child process and stops
// it when the benchmark ends.
func startJobServers(b *testing.B) *jobServers {
	b.Helper()
	s := &jobServers{}
	s.Proc = serverproc.Start(b, "TestJobServerProcess", jobServersEnv, &s.world)
	return s
}

// config is `mailprobe serve`'s configuration against the server process,
// set for speed: no request throttle, no RCPT budget per MX host.
func (s *jobServers) config(b *testing.B) config.Config {
	b.Helper()
	cfg, err := config.Load(config.Options{Environ: []string{
		"RCH__HEADER_SECRET=" + secret,
		"MAILPROBE_PROXIES=" + s.world.Proxy,
		"RCH__SMTP_PORT=" + strconv.Itoa(s.world.SMTPPort),
		"RCH__WORKER__RCPTS_PER_MINUTE_PER_MX=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_SECOND=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_HOUR=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_DAY=0",
	}})
	if err != nil {
		b.Fatal(err)
	}
	cfg.DNS = []string{s.world.DNS}
	cfg.AllowPrivateMX = true
	cfg.Storage.DataDir = b.TempDir()
	return cfg
}

// jobSize is 100 000 unless jobSizeEnv says otherwise.
func jobSize(b *testing.B) int {
	s := os.Getenv(jobSizeEnv)
	if s == "" {
		return 100_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < jobDomains {
		b.Fatalf("%s=%q: want a number of addresses ≥ %d", jobSizeEnv, s, jobDomains)
	}
	return n
}

// BenchmarkEmbeddedJob100k is issue 6's figure: one bulk job of 100 000
// addresses over 200 domains through the HTTP API of `mailprobe serve`
// (bolt store, local queue, worker in one process), timed until the job
// is Completed. The DNS, SOCKS5 and SMTP servers (loopback, PIPELINING,
// no delay) run in a child process, so cpu-µs/addr and maxrss-MB are the
// service's own; server-cpu-µs/addr is what the servers spent. maxrss-MB
// is the process's high-water mark (getrusage), so run this benchmark
// alone, once:
//
//	go test -run '^$' -bench EmbeddedJob100k -benchtime 1x ./internal/app/
func BenchmarkEmbeddedJob100k(b *testing.B) {
	srv := startJobServers(b)
	base, _ := servetest.Start(b, srv.config(b), nil)
	body := jobBody(jobSize(b))
	peak, stop := samplePeakHeap()
	defer stop()
	for b.Loop() {
		srvCPU, cpu, start := srv.CPU(b), serverproc.CPUTime(), time.Now()
		id := postJob(b, base, body)
		st := waitJob(b, base, id)
		wall := time.Since(start)
		cpu, srvCPU = serverproc.CPUTime()-cpu, srv.CPU(b)-srvCPU
		n := float64(st.Processed)
		if want := jobSize(b); st.Processed != want || st.Summary.Safe != want*7/10 {
			b.Fatalf("job %s: %d processed, %d safe; want %d and %d", id, st.Processed, st.Summary.Safe, want, want*7/10)
		}
		b.ReportMetric(wall.Seconds(), "s/job")
		b.ReportMetric(n/wall.Seconds(), "addresses/s")
		b.ReportMetric(float64(cpu.Nanoseconds())/1e3/n, "cpu-µs/addr")
		b.ReportMetric(float64(srvCPU.Nanoseconds())/1e3/n, "server-cpu-µs/addr")
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB") // Linux reports KiB
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
}

// jobBody is the POST /v1/bulk body: n addresses u<i>@d<i%200>.job.test.
func jobBody(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"input":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `"u%d@d%d.job.test"`, i/jobDomains, i%jobDomains)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// jobProgress is the part of GET /v1/bulk/{id} the benchmark reads.
type jobProgress struct {
	Status    string `json:"job_status"`
	Processed int    `json:"total_processed"`
	Summary   struct {
		Safe int `json:"total_safe"`
	} `json:"summary"`
}

func postJob(b *testing.B, base string, body []byte) string {
	b.Helper()
	code, resp := request(b, http.MethodPost, base+"/v1/bulk", body)
	if code != http.StatusOK {
		b.Fatalf("POST /v1/bulk: %d %s", code, resp)
	}
	var created struct {
		JobID json.Number `json:"job_id"`
	}
	if err := json.Unmarshal(resp, &created); err != nil {
		b.Fatal(err)
	}
	return created.JobID.String()
}

// waitJob polls the job's progress until it is Completed. A poll costs
// the service a little CPU; four a second are noise next to the job.
func waitJob(b *testing.B, base, id string) jobProgress {
	b.Helper()
	deadline := time.Now().Add(20 * time.Minute)
	for {
		code, resp := request(b, http.MethodGet, base+"/v1/bulk/"+id, nil)
		var p jobProgress
		if code == http.StatusOK {
			if err := json.Unmarshal(resp, &p); err != nil {
				b.Fatal(err)
			}
			if p.Status == "Completed" {
				return p
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("job %s not completed: %d %s", id, code, resp)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func request(b *testing.B, method, url string, body []byte) (int, []byte) {
	b.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("x-reacher-secret", secret)
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, out
}

// samplePeakHeap records the largest HeapInuse seen, sampled every 100 ms
// (ReadMemStats stops the world, so not more often), until stop.
func samplePeakHeap() (peak *atomic.Uint64, stop func()) {
	peak = new(atomic.Uint64)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	return peak, func() { close(quit); <-done }
}
