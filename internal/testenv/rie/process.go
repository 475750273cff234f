package rie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// InvokePath is the path of the emulator's invoke endpoint.
const InvokePath = "/2015-03-31/functions/function/invocations"

// ErrNotInstalled is returned by Find when aws-lambda-rie is missing.
var ErrNotInstalled = errors.New("aws-lambda-rie is not installed (run `make tools`)")

// Find returns the path of aws-lambda-rie: $MAILPROBE_RIE, else the copy
// `make tools` installs under root/.tools/bin.
func Find(root string) (string, error) {
	if p := os.Getenv("MAILPROBE_RIE"); p != "" {
		return p, nil
	}
	p := filepath.Join(root, ".tools", "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err != nil {
		return "", ErrNotInstalled
	}
	return p, nil
}

// Options say what to run under the emulator.
type Options struct {
	RIE       string   // path of aws-lambda-rie
	Bootstrap string   // path of the function's bootstrap
	Env       []string // the whole environment of the emulator and the function
	Dir       string   // working directory; "" for the caller's
	Output    io.Writer
	// Ready bounds the wait for the emulator to listen; default 10 s.
	Ready time.Duration
}

// Process is aws-lambda-rie running one bootstrap. The emulator runs one
// invocation at a time, as one Lambda execution environment does.
type Process struct {
	URL  string // the invoke endpoint
	Addr string // host:port of the emulator
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
	// runtimes are the processes the emulator started (the bootstrap),
	// recorded by NoteRuntimes so that Stop ends them even after the
	// emulator died and orphaned them.
	mu       sync.Mutex
	runtimes []proc
}

// Launch starts the emulator on free loopback ports (its invoke endpoint
// and the runtime API the bootstrap talks to) and waits until it listens.
// The emulator and the bootstrap form a process group of their own, which
// Stop ends as a whole.
func Launch(ctx context.Context, o Options) (*Process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.RIE, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", runtimeAddr, o.Bootstrap)
	cmd.Env, cmd.Dir = o.Env, o.Dir
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	p := &Process{URL: "http://" + addr + InvokePath, Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // a stopped emulator's exit status is of no interest
		close(p.done)
	}()
	ready := o.Ready
	if ready == 0 {
		ready = 10 * time.Second
	}
	if err := p.waitListening(ctx, ready); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// NoteRuntimes records the processes the emulator has started. The
// emulator starts the bootstrap at the first invocation (Lambda's init
// phase), so call it once an invocation is under way.
func (p *Process) NoteRuntimes() {
	found := children(p.cmd.Process.Pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range found {
		if !slices.Contains(p.runtimes, c) {
			p.runtimes = append(p.runtimes, c)
		}
	}
}

func (p *Process) waitListening(ctx context.Context, ready time.Duration) error {
	deadline := time.Now().Add(ready)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("aws-lambda-rie did not listen on %s: %w", p.Addr, err)
		}
		select {
		case <-p.done:
			return fmt.Errorf("aws-lambda-rie exited before listening on %s", p.Addr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Pid is the emulator's process id, which is also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the emulator has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop kills the emulator and the function and waits for the emulator to
// exit.
func (p *Process) Stop() {
	p.once.Do(func() {
		p.mu.Lock()
		runtimes := slices.Clone(p.runtimes)
		p.mu.Unlock()
		killGroup(p.cmd, runtimes)
	})
	<-p.done
}

// Runtimes lists the process ids of the runtimes (bootstraps) the emulator
// started.
func (p *Process) Runtimes() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []int
	for _, r := range p.runtimes {
		ids = append(ids, r.pid)
	}
	return ids
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// Endpoint is the invoke URL (URL), for callers that take any process.
func (p *Process) Endpoint() string { return p.URL }
