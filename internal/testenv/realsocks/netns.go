//go:build linux

package realsocks

import (
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
)

// Targets inside a Netns, each making a proxy's connect fail with a
// different errno, which real proxies turn into a different RFC 1928 §6
// reply. No packet to them leaves the namespace: it has only a loopback
// interface.
const (
	// HostUnreachable has an "unreachable" route: EHOSTUNREACH, reply 0x04.
	HostUnreachable = "192.0.2.1:25"
	// NetUnreachable has no route at all: ENETUNREACH, reply 0x03.
	NetUnreachable = "198.51.100.1:25"
	// Prohibited has a "prohibit" route: EACCES, which proxies report as a
	// general failure, reply 0x01.
	Prohibited = "203.0.113.1:25"
	// Silent is routed into the loopback interface, where the kernel drops
	// the SYN for an address it does not have: the connect times out
	// (ETIMEDOUT after SYNRetries retransmissions, about 3 s), reply 0x06,
	// as when a provider silently drops outbound port 25.
	Silent = "100.64.0.1:25"
	// RefusedPort is a loopback port nothing listens on: ECONNREFUSED,
	// reply 0x05.
	RefusedPort = "127.0.0.1:1"
)

// Netns is a network namespace with only a loopback interface and the
// routes above, where a proxy meets every connect failure without any
// traffic leaving the machine.
type Netns struct {
	Name string

	mu   sync.Mutex
	port int // last port handed out by nextPort
}

// nextPort returns a port for a new server in the namespace.
func (n *Netns) nextPort() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.port == 0 {
		n.port = 1079
	}
	n.port++
	return n.port
}

// NewNetns creates the namespace and deletes it at cleanup (after the
// servers started in it, which registered their cleanup later).
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	Need(t, true, "ip")
	n := &Netns{Name: "mailprobe-" + strings.ToLower(rand.Text()[:10])}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		// A container without CAP_SYS_ADMIN cannot create namespaces.
		prereq.Missing(t, fmt.Sprintf("cannot create a network namespace: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
	})
	ipn := []string{"ip", "-n", n.Name}
	run(t, append(ipn, "link", "set", "lo", "up")...)
	run(t, append(ipn, "route", "add", "unreachable", "192.0.2.0/24")...)
	run(t, append(ipn, "route", "add", "prohibit", "203.0.113.0/24")...)
	run(t, append(ipn, "route", "add", "100.64.0.0/24", "dev", "lo")...)
	// One SYN retransmission: a silent target times out in about 3 s
	// instead of the default two minutes. The setting is per namespace.
	run(t, "ip", "netns", "exec", n.Name, "sysctl", "-qw", "net.ipv4.tcp_syn_retries=1")
	return n
}

// Command returns cmd to run inside the namespace (ip netns exec replaces
// itself with the command, so the pid is the server's).
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Dial connects to addr inside the namespace. The socket is created by a
// thread that joined the namespace; once connected it works from any
// thread.
func (n *Netns) Dial(addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Locked until the thread is back in its own namespace; if it
		// cannot go back, it stays locked and ends with this goroutine
		// rather than return to the pool in the wrong namespace.
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer unix.Close(home)
		fd, err := unix.Open("/run/netns/"+n.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", n.Name, err)}
			return
		}
		c, err := net.Dial("tcp", addr)
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// Forward listens on 127.0.0.1:0 in the test's namespace and relays every
// connection to addr inside n: the way in for a client that cannot join
// the namespace (the engine, the doctor). Bytes pass unchanged, so the
// client sees the proxy's own replies. It returns the listening address.
func (n *Netns) Forward(t testing.TB, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				in, err := n.Dial(addr)
				if err != nil {
					return
				}
				track(in)
				defer in.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = io.Copy(in, c)
					_ = in.(*net.TCPConn).CloseWrite()
				}()
				_, _ = io.Copy(c, in)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// run runs a setup command, failing the test with its output.
func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}
