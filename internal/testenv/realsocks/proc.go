//go:build linux

package realsocks

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
)

// readyTimeout bounds a server's start-up; stopTimeout its shutdown.
const (
	readyTimeout = 15 * time.Second
	stopTimeout  = 5 * time.Second
)

// Need skips the test, loudly, when a binary or root is missing, unless CI
// is set (then it fails): scripts/apt-deps.sh installs the binaries, and in
// CI a missing one is a broken setup, not a reason to pass.
func Need(t testing.TB, root bool, bins ...string) {
	t.Helper()
	var missing []string
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if _, err := os.Stat(filepath.Join("/usr/sbin", b)); err != nil {
				missing = append(missing, b)
			}
		}
	}
	if root && os.Geteuid() != 0 {
		missing = append(missing, "root (for useradd, danted and network namespaces)")
	}
	if len(missing) == 0 {
		return
	}
	prereq.Missing(t, fmt.Sprintf("real SOCKS5 proxy test needs %s: run scripts/apt-deps.sh as root", strings.Join(missing, ", ")))
}

// bin returns the path of a binary, looking in /usr/sbin too (not on a
// non-root PATH).
func bin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join("/usr/sbin", name)
}

// process is a server started by this package, in its own process group
// so that it and every child it forks (dante forks a dozen) stop together.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // how it exited, once done is closed
}

// start runs cmd with its output in logPath and stops it at cleanup.
func start(t testing.TB, name string, cmd *exec.Cmd, logPath string) *process {
	t.Helper()
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig: a test binary that dies without cleanup takes the server
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The kernel sends Pdeathsig when the thread that forked the
		// child ends, and Go ends threads (those a goroutine locked and
		// left locked, as Netns.Dial does). So the fork happens on a
		// thread held for the server's whole life.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			p.err = cmd.Wait()
		}
		out.Close()
		close(p.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Log returns what the server wrote so far, for failure messages.
func (p *process) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(bytes.TrimSpace(b))
}

// stop sends SIGTERM to the process group, then SIGKILL if it lingers,
// and waits until no process of the group is left (zombies aside: they are
// gone already, only not yet reaped by init).
func (p *process) stop() error {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
	}
	deadline := time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		if len(groupMembers(pgid)) == 0 {
			<-p.done
			return nil
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		time.Sleep(20 * time.Millisecond)
	}
	if left := groupMembers(pgid); len(left) > 0 {
		return fmt.Errorf("%s: processes %v of group %d still running after SIGKILL", p.name, left, pgid)
	}
	return nil
}

// groupMembers lists the live (non-zombie) processes of process group
// pgid, from /proc.
func groupMembers(pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// waitReady polls dial until it succeeds, the process exits or the
// start-up time runs out.
func (p *process) waitReady(dial func() error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := dial()
		switch {
		case err == nil:
			return nil
		case p.exited():
			return fmt.Errorf("%s exited during start-up (%v): %s", p.name, p.err, p.Log())
		case time.Now().After(deadline):
			return fmt.Errorf("%s not ready after %v: %v; log: %s", p.name, readyTimeout, err, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
