package dialer

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// fakeClock is a settable clock for cooldown tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func startProxies(t *testing.T, n int, opts sockstest.Options) ([]*sockstest.Server, []Proxy) {
	t.Helper()
	srvs := make([]*sockstest.Server, n)
	ps := make([]Proxy, n)
	for i := range srvs {
		srvs[i] = sockstest.Start(t, opts)
		ps[i] = proxyFor(t, srvs[i])
	}
	return srvs, ps
}

func connections(srvs []*sockstest.Server) []int {
	out := make([]int, len(srvs))
	for i, s := range srvs {
		out[i] = s.Connections()
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRotationRoundRobin(t *testing.T) {
	tg := startTarget(t)
	srvs, ps := startProxies(t, 3, sockstest.Options{User: "u", Pass: secret})
	r, err := NewRotation(ps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		c, err := dialOnce(t, r, tg.addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if got, want := c.(*Conn).Proxy(), ps[i%3]; got != want {
			t.Errorf("dial %d went through %v, want %v", i, got, want)
		}
		roundTrip(t, c)
	}
	if got := connections(srvs); !equalInts(got, []int{3, 3, 3}) {
		t.Errorf("connections per proxy = %v, want [3 3 3]", got)
	}
}

func TestRotationFailover(t *testing.T) {
	tg := startTarget(t)
	srvs, ps := startProxies(t, 3, sockstest.Options{})
	clock := &fakeClock{}
	r, err := NewRotation(ps, WithClock(clock.now), WithCooldown(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	srvs[1].SetDown(true)
	for i := range 6 {
		if _, err := dialOnce(t, r, tg.addr); err != nil {
			t.Fatalf("dial %d with one proxy down: %v", i, err)
		}
	}
	if got := connections(srvs); !equalInts(got, []int{3, 0, 3}) {
		t.Errorf("connections per proxy = %v, want [3 0 3]", got)
	}

	// After the cooldown the recovered proxy gets its share again.
	srvs[1].SetDown(false)
	clock.advance(time.Minute + time.Second)
	for i := range 3 {
		if _, err := dialOnce(t, r, tg.addr); err != nil {
			t.Fatalf("dial %d after recovery: %v", i, err)
		}
	}
	if got := connections(srvs)[1]; got != 1 {
		t.Errorf("recovered proxy forwarded %d connections, want 1", got)
	}
}

func TestRotationAllDown(t *testing.T) {
	tg := startTarget(t)
	srvs, ps := startProxies(t, 2, sockstest.Options{})
	for _, s := range srvs {
		s.SetDown(true)
	}
	r, err := NewRotation(ps, WithCooldown(0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = dialOnce(t, r, tg.addr)
	if pe := asProxyError(t, err); pe.Kind != ProxyUnreachable {
		t.Errorf("kind = %v, want ProxyUnreachable (%v)", pe.Kind, err)
	}
}

// TestRotationAuthFailure checks that a proxy rejecting our credentials
// hands the dial to another proxy at once and is not asked again during
// its cooldown.
func TestRotationAuthFailure(t *testing.T) {
	tg := startTarget(t)
	bad := sockstest.Start(t, sockstest.Options{User: "u", Pass: "right"})
	good := sockstest.Start(t, sockstest.Options{User: "u", Pass: secret})
	badProxy := proxyFor(t, bad)
	badProxy.Password = secret // wrong for this proxy
	r, err := NewRotation([]Proxy{badProxy, proxyFor(t, good)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		c, err := dialOnce(t, r, tg.addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if got := c.(*Conn).Proxy(); got.Port != good.Port {
			t.Errorf("dial %d went through %v, want the proxy with the right password", i, got)
		}
	}
	if got := bad.Accepted(); got != 1 {
		t.Errorf("proxy with wrong password was contacted %d times, want 1", got)
	}
	if got := good.Connections(); got != 5 {
		t.Errorf("good proxy forwarded %d connections, want 5", got)
	}
}

// TestRotationAuthFailureAlone checks that with a single proxy the
// authentication failure is returned, not hidden.
func TestRotationAuthFailureAlone(t *testing.T) {
	tg := startTarget(t)
	bad := sockstest.Start(t, sockstest.Options{User: "u", Pass: "right"})
	p := proxyFor(t, bad)
	p.Password = secret
	r, err := NewRotation([]Proxy{p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialOnce(t, r, tg.addr); !IsAuth(err) {
		t.Fatalf("err = %v, want an authentication failure", err)
	}
}

func TestRotationConcurrent(t *testing.T) {
	tg := startTarget(t)
	srvs, ps := startProxies(t, 3, sockstest.Options{User: "u", Pass: "p"})
	r, err := NewRotation(ps)
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			c, err := r.DialContext(context.Background(), "tcp", tg.addr)
			if err != nil {
				errs <- err
				return
			}
			c.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := connections(srvs); !equalInts(got, []int{n / 3, n / 3, n / 3}) {
		t.Errorf("connections per proxy = %v, want %d each", got, n/3)
	}
}

func TestNewRotationInvalid(t *testing.T) {
	if _, err := NewRotation(nil); err == nil {
		t.Error("NewRotation(nil) succeeded")
	}
	_, err := NewRotation([]Proxy{{Host: "h", Port: 0, Username: "u", Password: secret}})
	if err == nil {
		t.Fatal("NewRotation accepted port 0")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error leaks the password: %v", err)
	}
	if _, err := NewRotation([]Proxy{{Host: "h", Port: 1}}, WithCooldown(-time.Second)); err == nil {
		t.Error("NewRotation accepted a negative cooldown")
	}
}

// TestRotationAvoiding checks that a retry through Avoiding never starts
// with the proxy named, however the round-robin stands.
func TestRotationAvoiding(t *testing.T) {
	tg := startTarget(t)
	srvs, ps := startProxies(t, 3, sockstest.Options{User: "u", Pass: secret})
	r, err := NewRotation(ps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		before := connections(srvs)
		c, err := dialOnce(t, r.Avoiding(ps[1].Addr()), tg.addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		c.Close()
		if got := connections(srvs); got[1] != before[1] {
			t.Fatalf("dial %d went through the avoided proxy: %v", i, got)
		}
	}
	if d := r.Avoiding(""); d != Dialer(r) {
		t.Error("Avoiding(\"\") is not the rotation itself")
	}
}
