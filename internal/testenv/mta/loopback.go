package mta

import (
	"crypto/rand"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
)

// Loopback hands out addresses of one random 127.a.b.0/24 block, all with
// the same port, so the servers of a test can be reached with one
// smtp_port while each has an address (and so an MX record) of its own.
// a is at least 16, away from the 127.0.0.x addresses other tests use.
type Loopback struct {
	// Port is free on every address Addr has returned.
	Port int

	t    testing.TB
	base [3]byte
	mu   sync.Mutex
	next int
}

// NewLoopback picks a block and a port that are free on it.
func NewLoopback(t testing.TB) *Loopback {
	t.Helper()
	for range 20 {
		var r [2]byte
		if _, err := rand.Read(r[:]); err != nil {
			t.Fatalf("mta: random block: %v", err)
		}
		l := &Loopback{t: t, base: [3]byte{127, 16 + r[0]%238, r[1]}, next: 1}
		// The kernel picks a port free on the block's first address;
		// Addr checks it on every other one.
		ln, err := net.Listen("tcp4", l.ip(1).String()+":0")
		if err != nil {
			continue
		}
		l.Port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		return l
	}
	t.Fatal("mta: no free loopback block")
	return nil
}

// Addr returns the next address of the block on which Port is free.
func (l *Loopback) Addr() netip.Addr {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for ; l.next < 255; l.next++ {
		ip := l.ip(l.next)
		ln, err := net.Listen("tcp4", net.JoinHostPort(ip.String(), strconv.Itoa(l.Port)))
		if err != nil {
			continue
		}
		ln.Close()
		l.next++
		return ip
	}
	l.t.Fatal("mta: loopback block exhausted")
	return netip.Addr{}
}

// Endpoint returns Addr():Port.
func (l *Loopback) Endpoint() netip.AddrPort {
	return netip.AddrPortFrom(l.Addr(), uint16(l.Port))
}

func (l *Loopback) ip(host int) netip.Addr {
	return netip.AddrFrom4([4]byte{l.base[0], l.base[1], l.base[2], byte(host)})
}
