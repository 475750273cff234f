package dialer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// ErrTargetNotIP is wrapped by the error DialContext returns when the
// address is not an IP literal. The engine resolves MX hosts with its own
// resolver and checks the addresses (CheckAddr) before dialing; letting a
// dialer resolve the name again would open a DNS-rebinding gap between
// check and connect.
var ErrTargetNotIP = errors.New("target host must be an IP literal")

// Direct returns a Dialer that connects without a proxy, for deployments
// that explicitly allow direct connections. timeout, when positive,
// bounds the TCP connect in addition to the context's deadline. Its
// errors are those of net.Dialer (e.g. errors.Is(err,
// syscall.ECONNREFUSED)), not *ProxyError.
func Direct(timeout time.Duration) Dialer {
	return &direct{d: net.Dialer{Timeout: timeout}}
}

type direct struct {
	d net.Dialer
}

// DialContext connects to address, which must be ip:port.
func (d *direct) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := checkTarget(network, address); err != nil {
		return nil, err
	}
	return d.d.DialContext(ctx, network, address)
}

// checkTarget accepts only TCP and ip:port targets with a valid port.
// Zoned IPv6 addresses are refused too: a zone means nothing to a proxy,
// and x/net/proxy would send the literal as a host name.
func checkTarget(network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("dialer: unsupported network %q, want tcp", network)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dialer: target %q: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return fmt.Errorf("dialer: target %q: %w", address, ErrTargetNotIP)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("dialer: target %q: invalid port", address)
	}
	return nil
}
