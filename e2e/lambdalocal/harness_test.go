package lambdalocal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

// secret is the x-reacher-secret of both servers.
const secret = "e2e-secret-value"

// outputs is what lambda-local writes to --outputs-file.
type outputs struct {
	ApiUrl    string            `json:"ApiUrl"`
	Resources map[string]string `json:"Resources"`
	Endpoints map[string]string `json:"Endpoints"`
}

// process is lambda-local running as a user runs it: the command, its
// stderr kept for the test to read, the ready line's URL.
type process struct {
	cmd   *exec.Cmd
	url   string
	out   outputs
	logs  *logBuffer
	done  chan error
	extra []string // stdout lines after the ready line (there must be none)
}

// startLambdaLocal builds cmd/lambda-local and runs it from the repository
// root with args, waits for its ready line, and stops it with SIGTERM at
// cleanup, checking that it exits cleanly and leaves nothing running.
func startLambdaLocal(t *testing.T, args ...string) *process {
	t.Helper()
	root, err := prereq.Root()
	if err != nil {
		t.Fatal(err)
	}
	rie.Binary(t) // skips (or fails in CI) without the emulator
	if err := awsemu.CheckInstalled(root); err != nil {
		prereq.Missing(t, err.Error())
	}
	bin := filepath.Join(t.TempDir(), "lambda-local")
	build := exec.Command("go", "build", "-o", bin, "./cmd/lambda-local")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build lambda-local: %v\n%s", err, out)
	}
	outFile := filepath.Join(t.TempDir(), "outputs.json")
	p := &process{logs: &logBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"--listen", "127.0.0.1:0", "--outputs-file", outFile}, args...)...)
	p.cmd.Dir = root
	p.cmd.Env = append(os.Environ(), "RCH__HEADER_SECRET="+secret)
	p.cmd.Stderr = p.logs
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "lambda-local listening on ")
		if !ok {
			t.Fatalf("first line %q, want the ready line", line)
		}
		p.url = url
	case err := <-p.done:
		t.Fatalf("lambda-local exited before it was ready: %v\n%s", err, p.logs.String())
	case <-time.After(5 * time.Minute): // the first build of both bootstraps on a busy machine
		t.Fatalf("lambda-local was not ready after 5 minutes\n%s", p.logs.String())
	}
	go func() {
		for line := range lines {
			p.logs.mu.Lock()
			p.extra = append(p.extra, line)
			p.logs.mu.Unlock()
		}
	}()
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &p.out); err != nil || p.out.ApiUrl != p.url {
		t.Fatalf("outputs %s: %v (ready line %s)", b, err, p.url)
	}
	return p
}

// stop sends SIGTERM and checks that lambda-local exits with status 0 and
// that every process it logged (emulators, RIEs, bootstraps) is gone.
func (p *process) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("lambda-local exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Error("lambda-local did not stop within 30 s of SIGTERM")
	}
	p.logs.mu.Lock()
	if len(p.extra) > 0 {
		t.Errorf("lambda-local printed more than the ready line on stdout: %q", p.extra)
	}
	p.logs.mu.Unlock()
	// SIGKILLed processes take a moment to go; a zombie waiting for its
	// new parent to reap it is gone too.
	for _, pid := range p.logs.pids() {
		deadline := time.Now().Add(5 * time.Second)
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if running(pid) {
			t.Errorf("process %d is still running after lambda-local stopped", pid)
		}
	}
	if t.Failed() {
		t.Logf("lambda-local's stderr (end):\n%s", tail(p.logs.String(), 20000))
	}
	if f := os.Getenv("LAMBDALOCAL_E2E_LOG"); f != "" {
		_ = os.WriteFile(f, []byte(p.logs.String()), 0o644) // for a person reading a run
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) && syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// logBuffer keeps lambda-local's stderr for the test to search.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	pidList = regexp.MustCompile(`(?:pid|pids|runtime_pids)="?\[?([0-9 ]+)\]?`)
	started = regexp.MustCompile(`msg="instance started" function=(\S+) pid=(\d+)`)
)

// pids lists every process id lambda-local logged.
func (l *logBuffer) pids() []int {
	var out []int
	for _, m := range pidList.FindAllStringSubmatch(l.String(), -1) {
		for _, f := range strings.Fields(m[1]) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// waitFor polls the log until match finds something, and returns it.
func (l *logBuffer) waitFor(t *testing.T, d time.Duration, what string, match func(string) []string) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := match(l.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// request sends one API request with the secret and decodes a JSON answer.
func request(t *testing.T, method, url string, body, into any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-reacher-secret", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
