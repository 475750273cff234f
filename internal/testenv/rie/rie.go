// Package rie runs a built Lambda bootstrap under the AWS Lambda Runtime
// Interface Emulator on loopback, for end-to-end tests of the functions as
// they run in AWS: the same binary, the same runtime API.
package rie

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

// Binary returns the path of aws-lambda-rie: $MAILPROBE_RIE, else the copy
// `make tools` installs under .tools/bin. Without it the test is skipped,
// except in CI, where a missing emulator is a failure.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MAILPROBE_RIE"); p != "" {
		return p
	}
	if root, err := awsemu.RepoRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if awsemu.CI() {
		t.Fatal("aws-lambda-rie is not installed: run `make tools`")
	}
	t.Skip("aws-lambda-rie is not installed (run `make tools`)")
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
	root, err := awsemu.RepoRoot()
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
	stop   func()
}

// Stop ends the emulator and the function now; cleanup does it otherwise.
func (f *Function) Stop() { f.stop() }

// Start runs bootstrap under the emulator with env (KEY=VALUE) added to a
// minimal environment, waits until it answers, and stops it at cleanup.
func Start(t testing.TB, bootstrap string, env ...string) *Function {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	// Each emulator needs its own runtime API port too (default 9001), so
	// several functions can run at once.
	runtimeAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(Binary(t), "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_LAMBDA_FUNCTION_TIMEOUT=60",
	}, env...)
	f := &Function{URL: "http://" + addr + "/2015-03-31/functions/function/invocations", Output: &bytes.Buffer{}, mu: &sync.Mutex{}}
	w := &lockedWriter{buf: f.Output, mu: f.mu}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("start aws-lambda-rie: %v", err)
	}
	f.stop = sync.OnceFunc(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("function output:\n%s", f.Logs())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not listen on %s: %v\n%s", addr, err, f.Logs())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Invoke sends one event and returns the raw handler result.
func (f *Function) Invoke(t testing.TB, event []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, f.Logs())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: HTTP %d: %s\n%s", resp.StatusCode, b, f.Logs())
	}
	return b
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

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
