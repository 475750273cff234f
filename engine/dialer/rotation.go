package dialer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// DefaultCooldown is how long a Rotation skips a proxy after it could not
// be reached or refused our credentials.
const DefaultCooldown = 30 * time.Second

// Rotation spreads connections round-robin over several SOCKS5 proxies.
// It is safe for concurrent use.
//
// A proxy that cannot be reached, or that rejects our credentials, is
// skipped for a cooldown period while others remain available. That
// keeps a dead proxy from costing each request a connect timeout, and
// keeps a bad password from being replayed at a proxy on every request,
// which many providers punish by blocking the client address.
type Rotation struct {
	members  []member
	next     atomic.Uint64
	cooldown time.Duration
	now      func() time.Time
	// onFailure, when set, hears of each member's failed dials.
	onFailure FailureFunc
}

type member struct {
	proxy  Proxy
	dialer Dialer
	// downUntil is a Unix time in nanoseconds; zero means healthy.
	downUntil *atomic.Int64
}

// RotationOption configures a Rotation.
type RotationOption func(*Rotation)

// WithCooldown sets how long a failed proxy is skipped (default
// DefaultCooldown). Zero disables skipping.
func WithCooldown(d time.Duration) RotationOption {
	return func(r *Rotation) { r.cooldown = d }
}

// WithClock replaces time.Now, for tests of the cooldown.
func WithClock(now func() time.Time) RotationOption {
	return func(r *Rotation) { r.now = now }
}

// NewRotation returns a Rotation over proxies, in the given order.
func NewRotation(proxies []Proxy, opts ...RotationOption) (*Rotation, error) {
	if len(proxies) == 0 {
		return nil, errors.New("dialer: rotation needs at least one proxy")
	}
	r := &Rotation{cooldown: DefaultCooldown, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	if r.cooldown < 0 {
		return nil, errors.New("dialer: negative rotation cooldown")
	}
	r.members = make([]member, len(proxies))
	for i, p := range proxies {
		d, err := NewSOCKS5(p)
		if err != nil {
			return nil, fmt.Errorf("proxy %d (%s): %w", i, p, err)
		}
		r.members[i] = member{proxy: p, dialer: Observed(d, p, r.onFailure), downUntil: new(atomic.Int64)}
	}
	return r, nil
}

// pick returns the index of the next usable member other than skip (pass
// -1 to allow all). If none qualifies it returns the round-robin choice,
// which may be skip itself.
func (r *Rotation) pick(skip int) int {
	n := uint64(len(r.members))
	start := r.next.Add(1) - 1
	now := r.now().UnixNano()
	for k := range n {
		i := int((start + k) % n)
		if i != skip && r.members[i].downUntil.Load() <= now {
			return i
		}
	}
	return int(start % n)
}

// DialContext dials address through the next proxy. If that proxy is at
// fault (ProxyError.ProxyLevel, or it refused our credentials) and the
// context is still live, it tries one other proxy, once. A proxy that
// refused our credentials is not asked again during its cooldown, so
// failing over does not replay them; it only spares the caller a failure
// that another proxy can avoid. Errors are *ProxyError; successful
// connections are *Conn, whose Proxy method tells which proxy served.
func (r *Rotation) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return r.dialSkipping(ctx, -1, network, address)
}

// Avoiding returns a Dialer like r that starts with another proxy than
// the one at proxyAddr (host:port), when r has another usable one: a
// retry after a connection failure then goes another way. It returns r
// itself when proxyAddr names no member or r has one member.
func (r *Rotation) Avoiding(proxyAddr string) Dialer {
	if proxyAddr == "" || len(r.members) < 2 {
		return r
	}
	for i, m := range r.members {
		if m.proxy.Addr() == proxyAddr {
			return avoiding{r: r, skip: i}
		}
	}
	return r
}

// avoiding is a Rotation that skips one member for the first proxy.
type avoiding struct {
	r    *Rotation
	skip int
}

func (a avoiding) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return a.r.dialSkipping(ctx, a.skip, network, address)
}

// dialSkipping is DialContext whose first proxy is not member skip (-1
// skips none) unless no other is usable.
func (r *Rotation) dialSkipping(ctx context.Context, skip int, network, address string) (net.Conn, error) {
	if err := checkTarget(network, address); err != nil {
		return nil, err
	}
	first := r.pick(skip)
	c, err := r.dial(ctx, first, network, address)
	if err == nil || !r.failover(ctx, err) {
		return c, err
	}
	second := r.pick(first)
	if second == first {
		return nil, err
	}
	return r.dial(ctx, second, network, address)
}

// dial uses member i and updates its health.
func (r *Rotation) dial(ctx context.Context, i int, network, address string) (net.Conn, error) {
	m := r.members[i]
	c, err := m.dialer.DialContext(ctx, network, address)
	var pe *ProxyError
	switch {
	case err == nil:
		m.downUntil.Store(0)
	case r.cooldown > 0 && errors.As(err, &pe) && r.penalize(ctx, pe):
		m.downUntil.Store(r.now().Add(r.cooldown).UnixNano())
	}
	return c, err
}

// penalize reports whether pe should put its proxy in cooldown: bad
// credentials, or a proxy-level failure that is not merely the caller's
// own deadline running out.
func (r *Rotation) penalize(ctx context.Context, pe *ProxyError) bool {
	return pe.Kind == ProxyAuth || (pe.ProxyLevel() && ctx.Err() == nil)
}

// failover reports whether err justifies trying another proxy: the proxy,
// not the target, is at fault. Bad credentials count: they are this
// proxy's configuration, and another proxy has its own.
func (r *Rotation) failover(ctx context.Context, err error) bool {
	var pe *ProxyError
	return ctx.Err() == nil && len(r.members) > 1 && errors.As(err, &pe) && (pe.ProxyLevel() || pe.Kind == ProxyAuth)
}
