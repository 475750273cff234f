package mta

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Postgrey is a running postgrey policy server, for Postfix's Policy.
type Postgrey struct {
	// Addr is where it listens.
	Addr netip.AddrPort
	proc *proc
}

// StartPostgrey starts postgrey with a fresh database on an address of lb.
// It greylists every new (client /24, sender, recipient) triplet for
// delay (whole seconds, at least 1; the real default is 300 s) and never
// whitelists a client automatically, so every triplet of a test is
// greylisted once.
func StartPostgrey(t testing.TB, lb *Loopback, delay time.Duration) *Postgrey {
	t.Helper()
	Need(t, "postgrey")
	s := &Postgrey{Addr: lb.Endpoint()}
	dir := serverDir(t, "postgrey")
	db := filepath.Join(dir, "db")
	run(t, "mkdir", db)
	chown(t, db, "postgrey")
	secs := max(1, int(delay/time.Second))
	s.proc = spawn(t, "postgrey", dir, spawnOptions{dir: dir}, "/usr/sbin/postgrey",
		"--inet="+s.Addr.String(), "--dbdir="+db, "--delay="+strconv.Itoa(secs),
		"--auto-whitelist-clients=0", "--hostname=postgrey.test")
	s.proc.waitListening(t, s.Addr)
	return s
}
