//go:build linux

package realsocks

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DanteOptions configure a dante server.
type DanteOptions struct {
	// External is the address dante connects from (its "external:"), so
	// a target can tell proxied connections from direct ones; default
	// 127.0.0.1.
	External netip.Addr
	// NoAuth accepts clients without authentication; by default dante
	// requires username/password (RFC 1929), checked against a system
	// user that StartDante creates and deletes at cleanup.
	NoAuth bool
	// BlockPorts are destination ports a "socks block" rule refuses, as a
	// provider's proxy refuses port 25: dante answers X'02'.
	BlockPorts []int
	// Netns runs dante inside the namespace, reached through a Forward.
	Netns *Netns
	// Conf, when set, is the configuration to run instead of the one
	// built from the options above (e.g. the README's), with its
	// logoutput, internal and external lines replaced by the test's.
	// NoAuth must match its socksmethod.
	Conf string
}

// StartDante starts danted with a configuration written for the test.
// Outside a namespace its rules let it connect only within 127.0.0.0/8.
func StartDante(t testing.TB, o DanteOptions) *Server {
	t.Helper()
	Need(t, true, "danted", "useradd", "chpasswd", "userdel")
	dir, err := os.MkdirTemp("", "mailprobe-dante-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// dante's unprivileged user writes its lock files under TMPDIR.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{Name: "dante", External: orLoopback(o.External)}
	if !o.NoAuth {
		s.User, s.Pass = systemUser(t)
	}
	var lastErr error
	for range startAttempts {
		host, port := listenAddr(t, o.Netns)
		conf := filepath.Join(dir, "danted.conf")
		text := danteConf(o, s.External, host, port, dir)
		if o.Conf != "" {
			text = adaptConf(o.Conf, s.External, host, port, dir)
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-f", conf, "-p", filepath.Join(dir, "danted.pid")}
		cmd := exec.Command(bin("danted"), args...)
		if o.Netns != nil {
			cmd = o.Netns.Command(bin("danted"), args...)
		}
		cmd.Env = append(os.Environ(), "TMPDIR="+dir)
		s.proc = start(t, "danted", cmd, filepath.Join(dir, "danted.out"))
		if lastErr = s.ready(t, o.Netns, hostPort(host, port)); lastErr == nil {
			return s
		}
	}
	t.Fatal(lastErr)
	return nil
}

// danteConf writes dante's configuration (danted.conf(5)).
func danteConf(o DanteOptions, external netip.Addr, host string, port int, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "logoutput: %s\n", filepath.Join(dir, "danted.log"))
	fmt.Fprintf(&b, "internal: %s port = %d\n", host, port)
	fmt.Fprintf(&b, "external: %s\n", external)
	if o.NoAuth {
		b.WriteString("socksmethod: none\n")
	} else {
		b.WriteString("socksmethod: username\n")
	}
	b.WriteString("clientmethod: none\n")
	b.WriteString("user.privileged: root\nuser.unprivileged: nobody\n")
	b.WriteString("timeout.negotiate: 10\ntimeout.connect: 30\n")
	b.WriteString("client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: error }\n")
	for _, p := range o.BlockPorts {
		fmt.Fprintf(&b, "socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 port = %d log: connect error }\n", p)
	}
	to := "127.0.0.0/8" // nothing but loopback, whatever a test asks
	if o.Netns != nil {
		to = "0.0.0.0/0" // the namespace has no way out
	}
	fmt.Fprintf(&b, "socks pass { from: 127.0.0.0/8 to: %s log: connect error }\n", to)
	return b.String()
}

// adaptConf points a given configuration at the test's log file, listen
// address and exit address.
func adaptConf(conf string, external netip.Addr, host string, port int, dir string) string {
	lines := strings.Split(conf, "\n")
	for i, l := range lines {
		key, _, _ := strings.Cut(strings.TrimSpace(l), ":")
		switch key {
		case "logoutput":
			lines[i] = "logoutput: " + filepath.Join(dir, "danted.log")
		case "internal":
			lines[i] = fmt.Sprintf("internal: %s port = %d", host, port)
		case "external":
			lines[i] = fmt.Sprintf("external: %s", external)
		}
	}
	return strings.Join(lines, "\n")
}

// systemUser creates a user without home or shell whose password dante
// checks (socksmethod username), and deletes it at cleanup. The password
// has the characters a proxy URL must percent-encode.
func systemUser(t testing.TB) (user, pass string) {
	t.Helper()
	user = "mpsocks" + strings.ToLower(rand.Text()[:8])
	pass = "p@ss:w%rd/" + rand.Text()[:6]
	retry(t, "useradd", "-M", "-N", "-s", "/usr/sbin/nologin", user)
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", user).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", user, err, out)
		}
	})
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(user + ":" + pass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	return user, pass
}

// retry runs a command that may find /etc/passwd locked by a parallel
// test's useradd or userdel.
func retry(t testing.TB, args ...string) {
	t.Helper()
	var out []byte
	var err error
	for range 20 {
		if out, err = exec.Command(args[0], args[1:]...).CombinedOutput(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
}
