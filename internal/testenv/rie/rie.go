// Package rie runs a built Lambda bootstrap under the AWS Lambda Runtime
// Interface Emulator on loopback, for end-to-end tests of the functions as
// they run in AWS: the same binary, the same runtime API.
package rie

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
)

// Binary returns the path of aws-lambda-rie (see Find). Without it the
// test is skipped, except in CI, where a missing emulator is a failure.
func Binary(t testing.TB) string {
	t.Helper()
	root, err := prereq.Root()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Find(root)
	if err == nil {
		return p
	}
	prereq.Missing(t, err.Error())
	return ""
}

// builds caches the bootstraps of this test binary: each function is
// compiled once, whatever the number of tests that run it.
var builds = struct {
	sync.Mutex
	dir  string
	bins map[string]string
}{bins: map[string]string{}}

// Build compiles a function package the way SAM does (CGO off, lambda.norpc,
// trimmed), for this machine's architecture so the emulator can run it.
// Call Cleanup from TestMain to remove the binaries.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if out, ok := builds.bins[pkg]; ok {
		return out
	}
	root, err := prereq.Root()
	if err != nil {
		t.Fatal(err)
	}
	if builds.dir == "" {
		if builds.dir, err = os.MkdirTemp("", "mailprobe-bootstraps-"); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(builds.dir, strconv.Itoa(len(builds.bins)), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	builds.bins[pkg] = out
	return out
}

// Cleanup removes the binaries Build made.
func Cleanup() {
	builds.Lock()
	defer builds.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	builds.dir, builds.bins = "", map[string]string{}
}

// Function is a bootstrap running under the emulator.
type Function struct {
	URL    string
	Output *bytes.Buffer // the function's stdout and stderr (logs, EMF lines)
	mu     *sync.Mutex
	proc   *Process
}

// Stop ends the emulator and the function now; cleanup does it otherwise.
func (f *Function) Stop() { f.proc.Stop() }

// PID is the process id of the emulator; the bootstrap is its child.
func (f *Function) PID() int { return f.proc.Pid() }

// Start runs bootstrap under the emulator with env (KEY=VALUE) added to a
// minimal environment, waits until it answers, and stops it at cleanup.
func Start(t testing.TB, bootstrap string, env ...string) *Function {
	t.Helper()
	f := &Function{Output: &bytes.Buffer{}, mu: &sync.Mutex{}}
	proc, err := Launch(context.Background(), Options{
		RIE: Binary(t), Bootstrap: bootstrap, Output: &lockedWriter{buf: f.Output, mu: f.mu},
		Env: append([]string{
			"PATH=" + os.Getenv("PATH"), "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_LAMBDA_FUNCTION_TIMEOUT=60",
		}, env...),
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, f.Logs())
	}
	f.URL, f.proc = proc.URL, proc
	t.Cleanup(func() {
		proc.Stop()
		if t.Failed() {
			t.Logf("function output:\n%s", f.Logs())
		}
	})
	return f
}

// Invoke sends one event and returns the raw handler result.
func (f *Function) Invoke(t testing.TB, event []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, err := f.Call(ctx, event)
	if err != nil {
		t.Fatalf("%v\n%s", err, f.Logs())
	}
	return b
}

// Call is Invoke for callers that are not a test's goroutine: it returns
// the failure instead of failing a test.
func (f *Function) Call(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke: HTTP %d: %s", resp.StatusCode, b)
	}
	return b, nil
}

// Logs returns what the function has printed so far.
func (f *Function) Logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Output.String()
}

type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
