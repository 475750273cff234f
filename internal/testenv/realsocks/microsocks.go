//go:build linux

package realsocks

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// MicrosocksOptions configure a microsocks server.
type MicrosocksOptions struct {
	// User and Pass, when User is set, make it require RFC 1929
	// username/password (-u, -P).
	User, Pass string
	// Bind is the source address of its outgoing connections (-b);
	// default 127.0.0.1.
	Bind netip.Addr
	// Netns runs it inside the namespace, reached through a Forward.
	Netns *Netns
}

// StartMicrosocks starts microsocks on a loopback port.
func StartMicrosocks(t testing.TB, o MicrosocksOptions) *Server {
	t.Helper()
	Need(t, o.Netns != nil, "microsocks")
	dir := t.TempDir()
	s := &Server{Name: "microsocks", User: o.User, Pass: o.Pass, External: orLoopback(o.Bind)}
	var lastErr error
	for range startAttempts {
		host, port := listenAddr(t, o.Netns)
		args := []string{"-i", host, "-p", fmt.Sprint(port), "-b", s.External.String()}
		if o.User != "" {
			args = append(args, "-u", o.User, "-P", o.Pass)
		}
		cmd := exec.Command(bin("microsocks"), args...)
		if o.Netns != nil {
			cmd = o.Netns.Command(bin("microsocks"), args...)
		}
		cmd.Env = os.Environ()
		s.proc = start(t, "microsocks", cmd, filepath.Join(dir, "microsocks.log"))
		if lastErr = s.ready(t, o.Netns, hostPort(host, port)); lastErr == nil {
			return s
		}
	}
	t.Fatal(lastErr)
	return nil
}
