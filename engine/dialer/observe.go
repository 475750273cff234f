package dialer

import (
	"context"
	"errors"
	"net"
)

// FailureFunc hears of a dial through proxy p that failed with err while
// its caller still wanted the connection: failures after the caller's own
// context ended are the caller's, not the proxy's, and are not reported.
// Operators count these per proxy (metrics); the function must be safe
// for concurrent use and return quickly.
type FailureFunc func(p Proxy, err *ProxyError)

// Observed returns a Dialer that dials with d, a dialer through p, and
// reports its failures to f. A nil f returns d itself.
func Observed(d Dialer, p Proxy, f FailureFunc) Dialer {
	if f == nil {
		return d
	}
	return observed{d: d, p: p, f: f}
}

type observed struct {
	d Dialer
	p Proxy
	f FailureFunc
}

func (o observed) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := o.d.DialContext(ctx, network, address)
	var pe *ProxyError
	if err != nil && ctx.Err() == nil && errors.As(err, &pe) {
		o.f(o.p, pe)
	}
	return c, err
}

// WithFailureFunc reports the failures of every member of a Rotation to
// f, including those a failover to another member then hid from the
// caller.
func WithFailureFunc(f FailureFunc) RotationOption {
	return func(r *Rotation) { r.onFailure = f }
}
