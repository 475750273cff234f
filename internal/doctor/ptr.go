package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ptrTimeout bounds one PTR query to one server.
const ptrTimeout = 5 * time.Second

// ptrResolver asks the configured resolvers for PTR records. engine/mx
// has no reverse lookups (the engine never needs one), and net.Resolver
// would consult /etc/hosts and ignore the configured servers, so the
// doctor asks with miekg/dns itself, as engine/mx does for MX.
type ptrResolver struct {
	servers []string // host:port; empty reads /etc/resolv.conf
}

// lookup returns the PTR names of ip, lower-case without the final dot;
// none when the name does not exist.
func (r ptrResolver) lookup(ctx context.Context, ip netip.Addr) ([]string, error) {
	arpa, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return nil, err
	}
	servers, err := r.serverList()
	if err != nil {
		return nil, err
	}
	q := new(dns.Msg)
	q.SetQuestion(arpa, dns.TypePTR)
	c := &dns.Client{Net: "udp", Timeout: ptrTimeout}
	var lastErr error
	for _, s := range servers {
		resp, _, err := c.ExchangeContext(ctx, q, s)
		if err == nil && resp.Truncated {
			resp, _, err = (&dns.Client{Net: "tcp", Timeout: ptrTimeout}).ExchangeContext(ctx, q, s)
		}
		switch {
		case err != nil:
			lastErr = err
			continue
		case resp.Rcode == dns.RcodeNameError:
			return nil, nil
		case resp.Rcode != dns.RcodeSuccess:
			lastErr = fmt.Errorf("%s answered %s", s, dns.RcodeToString[resp.Rcode])
			continue
		}
		var names []string
		for _, rr := range resp.Answer {
			if p, ok := rr.(*dns.PTR); ok {
				names = append(names, strings.ToLower(strings.TrimSuffix(p.Ptr, ".")))
			}
		}
		return names, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no resolver")
	}
	return nil, lastErr
}

func (r ptrResolver) serverList() ([]string, error) {
	if len(r.servers) > 0 {
		out := make([]string, len(r.servers))
		for i, s := range r.servers {
			if ip, err := netip.ParseAddr(s); err == nil {
				s = net.JoinHostPort(ip.String(), "53")
			}
			out[i] = s
		}
		return out, nil
	}
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("read system resolvers: %w", err)
	}
	out := make([]string, len(cc.Servers))
	for i, s := range cc.Servers {
		out[i] = net.JoinHostPort(s, cc.Port)
	}
	return out, nil
}
