package mta

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one server: unshare, the shell that is the first process of
// the server's PID namespace, and whatever the server starts below it.
type proc struct {
	name string
	cmd  *exec.Cmd // unshare
	done chan struct{}
	ns   string // the PID namespace, as /proc/PID/ns/pid reads
	out  string // the file holding the server's stdout and stderr
}

// initScript keeps sh as the namespace's first process, waiting for the
// server: when sh dies (unshare killed it, or the server exited), the
// kernel kills every process left in the namespace. A server run as the
// first process itself would outlive unshare's --kill-child when it
// changes credentials (the parent-death signal is then cleared). Its
// arguments are bind mounts (source, target pairs) up to "--", then the
// server's command.
const initScript = `set -e
while [ "$1" != "--" ]; do mount --bind "$1" "$2"; shift 2; done
shift
"$@" &
wait $!`

// spawnOptions are the rarer needs of a server.
type spawnOptions struct {
	// binds are bind mounts (target: source) made in a mount namespace
	// of the server's own, e.g. a resolv.conf naming a test DNS server
	// so that nothing leaves loopback, or a private spool directory.
	binds map[string]string
	dir   string // working directory
}

// spawn starts argv in a new PID namespace and registers its stop with
// t.Cleanup. The test binary's death kills unshare (parent-death
// signal), which kills the namespace.
func spawn(t testing.TB, name, outDir string, o spawnOptions, argv ...string) *proc {
	t.Helper()
	args := []string{"--pid", "--fork", "--kill-child=SIGKILL"}
	if len(o.binds) > 0 {
		args = append(args, "--mount")
	}
	args = append(args, "--", "sh", "-c", initScript, "sh")
	for _, target := range slices.Sorted(maps.Keys(o.binds)) {
		args = append(args, o.binds[target], target)
	}
	args = append(args, "--")
	args = append(args, argv...)
	cmd := exec.Command("unshare", args...)
	cmd.Dir = o.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), out: filepath.Join(outDir, name+".out")}
	f, err := os.Create(p.out)
	if err != nil {
		t.Fatalf("mta: %s: %v", name, err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("mta: start %s: %v", name, err)
	}
	go func() {
		_ = cmd.Wait() // a server we kill exits with a signal; nothing to learn
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	if p.ns, err = p.namespace(); err != nil {
		t.Fatalf("mta: %s: %v\n%s", name, err, p.output())
	}
	return p
}

// namespace returns the PID namespace of unshare's child, once it exists.
func (p *proc) namespace() (string, error) {
	pid := strconv.Itoa(p.cmd.Process.Pid)
	own, _ := os.Readlink("/proc/self/ns/pid")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join("/proc", pid, "task", pid, "children"))
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, err := os.Readlink(filepath.Join("/proc", f[0], "ns", "pid"))
			if err == nil && ns != own {
				return ns, nil
			}
		}
		select {
		case <-p.done:
			return "", errors.New("unshare exited at once")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return "", errors.New("no PID namespace after 5s")
}

// exited reports whether the server is gone (unshare returned).
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the namespace and checks that no process of it is left
// (zombies waiting for init to reap them are dead already and ignored).
func (p *proc) stop(t testing.TB) {
	_ = p.cmd.Process.Kill()
	<-p.done
	if p.ns == "" {
		return
	}
	var left []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = livingIn(p.ns); len(left) == 0 {
			return
		}
	}
	t.Errorf("mta: %s left processes %v running after its namespace was killed", p.name, left)
}

// livingIn lists the processes of PID namespace ns that are not zombies.
func livingIn(ns string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "pid")); err != nil || l != ns {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// The state follows the command name, which is in parentheses
		// and may itself hold ") ".
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// output returns the end of the server's stdout and stderr.
func (p *proc) output() string {
	return tail(p.out, 3000)
}

// tail returns the last n bytes of a file, or why it cannot.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// waitListening waits until something listens on ap (read from
// /proc/net/tcp, so no connection shows up in the server's log), the
// server exits or 15 s pass.
func (p *proc) waitListening(t testing.TB, ap netip.AddrPort) {
	t.Helper()
	want := listenKey(ap)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if b, err := os.ReadFile("/proc/net/tcp"); err == nil && bytes.Contains(b, want) {
			return
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("mta: %s is not listening on %s:\n%s", p.name, ap, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listenKey is how /proc/net/tcp shows a listening IPv4 socket on ap: the
// address as a little-endian hex word, the port in hex, state 0A.
func listenKey(ap netip.AddrPort) []byte {
	a := ap.Addr().As4()
	return fmt.Appendf(nil, "%02X%02X%02X%02X:%04X 00000000:0000 0A", a[3], a[2], a[1], a[0], ap.Port())
}

// writeFile writes a configuration file, failing the test on error.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("mta: %v", err)
	}
}

// serverDir returns a fresh directory that the servers' unprivileged
// users can enter: t.TempDir's parent is 0700 and owned by root.
func serverDir(t testing.TB, name string) string {
	t.Helper()
	td := t.TempDir()
	dir := filepath.Join(td, name)
	for _, d := range []string{filepath.Dir(td), td} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("mta: %v", err)
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("mta: %v", err)
	}
	return dir
}

// chown gives path (and what is under it) to a system user.
func chown(t testing.TB, path, user string) {
	t.Helper()
	if out, err := exec.Command("chown", "-R", user+":", path).CombinedOutput(); err != nil {
		t.Fatalf("mta: chown %s %s: %v: %s", user, path, err, out)
	}
}

// run runs a command to completion, failing the test on error.
func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("mta: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
