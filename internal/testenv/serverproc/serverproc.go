//go:build unix

// Package serverproc runs a benchmark's test servers in a child process, so
// their CPU time and memory stay out of the figures of the process under
// measurement. The child is the same test binary with one test selected;
// it describes its servers (a "world") as one JSON line and then reports
// its CPU time whenever asked.
package serverproc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Child reports whether this process is the child that env selects.
func Child(env string) bool { return os.Getenv(env) == "1" }

// Serve is the child's side: it writes world as one JSON line, then
// answers each line read from stdin with its CPU time so far, and returns
// when stdin closes (the parent is done).
func Serve(t *testing.T, world any) {
	t.Helper()
	if err := json.NewEncoder(os.Stdout).Encode(world); err != nil {
		t.Fatal(err)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(int64(CPUTime()))
	}
}

// Proc is the parent's handle on the running child.
type Proc struct {
	in  io.WriteCloser
	out *bufio.Reader
}

// Start runs the test named test of this binary as the child (env=1 makes
// it serve), decodes its world into world, and stops it at cleanup.
func Start(b *testing.B, test, env string, world any) *Proc {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), env+"=1")
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
	p := &Proc{in: in, out: bufio.NewReader(out)}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("server process: %v", err)
	}
	if err := json.Unmarshal(line, world); err != nil {
		b.Fatalf("server process said %q: %v", line, err)
	}
	return p
}

// CPU asks the child for the CPU time it has used so far.
func (p *Proc) CPU(b *testing.B) time.Duration {
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

// CPUTime is the user plus system CPU time this process has used.
func CPUTime() time.Duration {
	user, sys := CPUTimes()
	return user + sys
}

// CPUTimes is the user and the system (kernel) CPU time this process has
// used, apart: system time is what its socket calls cost the kernel.
func CPUTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
