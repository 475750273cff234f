// Package servetest runs `mailprobe serve` for tests: in the test's own
// process (Start), or as the built command a user runs (Build, Exec), each
// on a free loopback port and stopped when the test ends.
package servetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/metrics/prom"
)

// Start runs the server of `mailprobe serve` (app.NewLocal) for cfg in
// this process, logging to logger (nil discards the logs), until stop is
// called or the test ends. base is its URL, http://127.0.0.1:port.
func Start(t testing.TB, cfg config.Config, logger *slog.Logger) (base string, stop func()) {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l, err := app.NewLocal(cfg, logger, prom.New(prom.Options{Backend: cfg.BackendName}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, ln) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// Build builds cmd/mailprobe into the test's temp dir and returns the
// binary's path.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mailprobe")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/mailprobe/mailprobe/cmd/mailprobe").CombinedOutput()
	if err != nil {
		t.Fatalf("build mailprobe: %v\n%s", err, out)
	}
	return bin
}

// Process is a running `mailprobe serve` command.
type Process struct {
	URL  string // http://127.0.0.1:port, from its "listening" log line
	logs *lockedBuffer
}

// Logs returns what the command has written so far (stdout and stderr).
func (p *Process) Logs() string { return p.logs.String() }

// Exec runs bin (see Build) as `mailprobe serve` on a free loopback port
// with a data directory of the test's, with env as its only environment
// besides PATH and HOME, and waits for its "listening" line. At the end of
// the test it is interrupted, and its output logged if the test failed.
func Exec(t testing.TB, bin string, env []string) *Process {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	p := &Process{logs: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailprobe serve: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("mailprobe serve output:\n%s", p.Logs())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, line := range LogLines(p.Logs()) {
			if url, ok := line["url"].(string); ok && line["message"] == "listening" {
				p.URL = url
				return p
			}
		}
	}
	t.Fatalf("mailprobe serve did not start:\n%s", p.Logs())
	return nil
}

// LogLines parses the JSON log lines of text, skipping anything else.
func LogLines(text string) []map[string]any {
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
