package mx

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// LookupIP returns host's addresses from its A and AAAA records, IPv4 first,
// following CNAMEs. An IP literal is returned as it is. It returns an error
// wrapping ErrNXDomain when host does not exist, ErrNoAddress when it has no
// address records, and a *ResolveError when the answer could not be had.
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{addr.Unmap()}, nil
	}
	name, err := canonical(host)
	if err != nil {
		return nil, err
	}
	v, _ := r.lookup(ctx, cacheKey{name: name, kind: kindIP}, (*Resolver).lookupIP)
	return slices.Clone(v.addrs), v.err
}

// lookupIP resolves name (a cache key), asking for A and AAAA at once since
// both are needed, and says how long the result may be cached.
func (r *Resolver) lookupIP(ctx context.Context, name string) (value, time.Duration) {
	fqdn := name + "."
	var (
		v4, v6     answer
		err4, err6 error
		wg         sync.WaitGroup
	)
	wg.Go(func() { v4, err4 = r.query(ctx, fqdn, dns.TypeA) })
	v6, err6 = r.query(ctx, fqdn, dns.TypeAAAA)
	wg.Wait()

	addrs := append(addrsOf(v4.rrs), addrsOf(v6.rrs)...)
	switch {
	case len(addrs) > 0 && (err4 != nil || err6 != nil):
		// Half an answer is usable now but not worth caching.
		return value{addrs: addrs}, 0
	case len(addrs) > 0:
		return value{addrs: addrs}, min(v4.cacheTTL(), v6.cacheTTL())
	case err4 != nil:
		return value{err: err4}, 0
	case err6 != nil:
		return value{err: err6}, 0
	case v4.nx || v6.nx:
		return value{err: fmt.Errorf("lookup %s: %w", fqdn, ErrNXDomain)}, min(v4.negTTL, v6.negTTL)
	}
	return value{err: fmt.Errorf("lookup %s: %w", fqdn, ErrNoAddress)}, min(v4.negTTL, v6.negTTL)
}

// cacheTTL is how long a successful answer may be cached, whether or not it
// held records.
func (a answer) cacheTTL() time.Duration {
	if len(a.rrs) > 0 {
		return a.ttl
	}
	return a.negTTL
}

func addrsOf(rrs []dns.RR) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
		var ip []byte
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A.To4()
		case *dns.AAAA:
			ip = rr.AAAA.To16()
		}
		if addr, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, addr.Unmap())
		}
	}
	return out
}
