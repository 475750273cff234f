package dialer

import (
	"context"
	"net/netip"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

func BenchmarkCheckAddr(b *testing.B) {
	for _, s := range []string{"142.250.27.26", "10.1.2.3", "2a00:1450:4001:c02::1b", "::ffff:8.8.8.8", "fd00::1"} {
		ip := netip.MustParseAddr(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = CheckAddr(ip)
			}
		})
	}
}

func BenchmarkParseProxyURL(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProxyURL("socks5://user:p%40ss@proxy.example.com:1080"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotationPick measures the round-robin choice every dial
// through a Rotation makes.
func BenchmarkRotationPick(b *testing.B) {
	r, err := NewRotation([]Proxy{{Host: "a", Port: 1}, {Host: "b", Port: 1}, {Host: "c", Port: 1}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.pick(-1)
		}
	})
}

// BenchmarkSOCKS5Dial measures a full dial (TCP to the proxy, RFC 1929
// auth, CONNECT, proxy's connect to the target) over loopback, and the
// client side's allocations.
func BenchmarkSOCKS5Dial(b *testing.B) {
	tg := startTarget(b)
	srv := sockstest.Start(b, sockstest.Options{User: "u", Pass: "p"})
	d := mustDialer(b, proxyFor(b, srv))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := d.DialContext(ctx, "tcp", tg.addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
