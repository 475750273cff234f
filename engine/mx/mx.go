// Package mx finds the mail exchangers of a domain with DNS, as an SMTP
// client must (RFC 5321 §5.1): MX records sorted by preference, the implicit
// MX of a domain with only address records, and the null MX of a domain that
// accepts no mail (RFC 7505).
//
// A Resolver talks to the configured recursive resolvers itself (UDP with
// EDNS0, TCP when an answer is truncated) and caches answers, positive and
// negative, within their TTLs.
package mx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults for the zero values of Config's fields.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultAttempts  = 2
	DefaultCacheSize = 10000
)

// resolvConf is where the system's resolvers are listed when Config.Servers
// is empty.
const resolvConf = "/etc/resolv.conf"

// Config configures a Resolver. The zero value uses the system's resolvers.
type Config struct {
	// Servers are the recursive resolvers to ask, in order, as "host:port";
	// a bare IP address means port 53. Empty reads /etc/resolv.conf.
	Servers []string
	// Timeout bounds each query (DefaultTimeout when zero).
	Timeout time.Duration
	// Attempts is how many times a UDP query is sent to each server before
	// the next one is tried (DefaultAttempts when zero).
	Attempts int
	// Now is the cache's clock (time.Now when nil).
	Now func() time.Time
	// CacheSize is the most entries the cache holds, one per name and
	// lookup kind (MX or address); DefaultCacheSize when zero, and a
	// negative value disables caching.
	CacheSize int
}

// Resolver looks up MX and address records. It is safe for concurrent use.
type Resolver struct {
	servers  []string
	timeout  time.Duration
	attempts int
	now      func() time.Time
	udp      *dns.Client
	tcp      *dns.Client
	cache    *cache // nil when caching is disabled
	flights  flights
}

// New returns a Resolver for cfg.
func New(cfg Config) (*Resolver, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("mx: negative timeout %v", cfg.Timeout)
	}
	if cfg.Attempts < 0 {
		return nil, fmt.Errorf("mx: negative attempts %d", cfg.Attempts)
	}
	servers, err := serverAddrs(cfg.Servers)
	if err != nil {
		return nil, err
	}
	r := &Resolver{
		servers:  servers,
		timeout:  cmp.Or(cfg.Timeout, DefaultTimeout),
		attempts: cmp.Or(cfg.Attempts, DefaultAttempts),
		now:      cfg.Now,
		udp:      &dns.Client{Net: "udp", UDPSize: ednsSize},
		tcp:      &dns.Client{Net: "tcp"},
	}
	r.udp.Timeout, r.tcp.Timeout = r.timeout, r.timeout
	if r.now == nil {
		r.now = time.Now
	}
	if cfg.CacheSize >= 0 {
		r.cache = newCache(cmp.Or(cfg.CacheSize, DefaultCacheSize))
	}
	return r, nil
}

// serverAddrs validates the configured servers, or reads the system's.
func serverAddrs(servers []string) ([]string, error) {
	if len(servers) == 0 {
		cc, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil {
			return nil, fmt.Errorf("mx: read system resolvers: %w", err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("mx: no nameserver in %s", resolvConf)
		}
		return servers, nil
	}
	out := make([]string, 0, len(servers))
	for _, s := range servers {
		if addr, err := netip.ParseAddr(s); err == nil {
			s = net.JoinHostPort(addr.String(), "53")
		}
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("mx: dns server %q: %w", s, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Host is one mail exchanger.
type Host struct {
	// Name is the exchanger's fully qualified name, lower-case, with the
	// trailing dot.
	Name string
	// Preference is the MX preference; lower is tried first.
	Preference uint16
}

// Records is the outcome of an MX lookup for a domain that can be mailed or
// says it cannot.
type Records struct {
	// Hosts are the exchangers in the order to try them: by preference and,
	// within a preference, by name. RFC 5321 §5.1 says to shuffle equal
	// preferences to spread load; a verifier sends one probe, not a mail
	// stream, and a stable order makes results reproducible, so callers that
	// want spreading shuffle ties themselves.
	Hosts []Host
	// Implicit reports that the domain has no MX records but has address
	// records, so the domain itself is its exchanger with preference 0
	// (RFC 5321 §5.1); Hosts then holds that one entry.
	Implicit bool
	// Null reports a null MX (RFC 7505): the domain accepts no mail. Hosts
	// is then empty.
	Null bool
}

// clone returns r with its own Hosts, so that callers cannot change the
// cached copy.
func (r Records) clone() Records {
	r.Hosts = slices.Clone(r.Hosts)
	return r
}

// LookupMX returns domain's mail exchangers. domain is an ASCII (A-label)
// name, with or without the trailing dot. It returns an error wrapping
// ErrNXDomain when the domain does not exist, ErrNoMail when it has neither
// MX nor address records, and a *ResolveError when the answer could not be
// had.
func (r *Resolver) LookupMX(ctx context.Context, domain string) (Records, error) {
	name, err := canonical(domain)
	if err != nil {
		return Records{}, err
	}
	v, _ := r.lookup(ctx, cacheKey{name: name, kind: kindMX}, (*Resolver).lookupMX)
	return v.records.clone(), v.err
}

// canonical returns the cache key for domain: lower-case without the
// trailing dot, so that the common spelling ("gmail.com") needs no copy.
func canonical(domain string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(domain, "."))
	if _, ok := dns.IsDomainName(name); !ok || name == "" || strings.HasSuffix(name, ".") {
		return "", fmt.Errorf("mx: malformed domain %q: %w", domain, ErrNXDomain)
	}
	return name, nil
}

// lookupMX resolves name (a cache key) and says how long the result may be
// cached.
func (r *Resolver) lookupMX(ctx context.Context, name string) (value, time.Duration) {
	fqdn := name + "."
	ans, err := r.query(ctx, fqdn, dns.TypeMX)
	switch {
	case err != nil:
		return value{err: err}, 0
	case ans.nx:
		return value{err: fmt.Errorf("lookup %s: %w", fqdn, ErrNXDomain)}, ans.negTTL
	case len(ans.rrs) > 0:
		return value{records: mxRecords(ans.rrs)}, ans.ttl
	}
	// RFC 5321 §5.1: with no MX records, the domain's own address records
	// make it an implicit MX.
	found, ttl, err := r.hasAddress(ctx, name)
	switch {
	case err != nil:
		return value{err: err}, 0
	case !found:
		return value{err: fmt.Errorf("lookup %s: %w", fqdn, ErrNoMail)}, min(ttl, ans.negTTL)
	}
	rec := Records{Hosts: []Host{{Name: fqdn}}, Implicit: true}
	return value{records: rec}, min(ttl, ans.negTTL)
}

// hasAddress reports whether name (a cache key) has A or AAAA records, and
// for how long that answer holds. It is LookupIP's lookup, cached as one:
// the SMTP step asks for the addresses of this implicit MX next, and then
// finds them in the cache instead of asking again.
func (r *Resolver) hasAddress(ctx context.Context, name string) (bool, time.Duration, error) {
	v, ttl := r.lookup(ctx, cacheKey{name: name, kind: kindIP}, (*Resolver).lookupIP)
	switch {
	case v.err == nil:
		return true, ttl, nil
	case errors.Is(v.err, ErrNXDomain), errors.Is(v.err, ErrNoAddress):
		// The name vanished since the MX query, or holds no address:
		// either way, no mail.
		return false, ttl, nil
	}
	return false, 0, v.err
}

// mxRecords turns an MX RRset into Records.
func mxRecords(rrs []dns.RR) Records {
	hosts := make([]Host, 0, len(rrs))
	for _, rr := range rrs {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		name := dns.CanonicalName(mx.Mx)
		// RFC 7505 §3: "." is the null MX. Mixed with real exchangers it is
		// a misconfiguration; skip it and use the others.
		if name == "." {
			continue
		}
		hosts = append(hosts, Host{Name: name, Preference: mx.Preference})
	}
	if len(hosts) == 0 {
		// Only "." entries: RFC 7505 defines "0 ."; any other preference
		// still names no host to deliver to, so treat it the same.
		return Records{Null: true}
	}
	slices.SortFunc(hosts, func(a, b Host) int {
		return cmp.Or(cmp.Compare(a.Preference, b.Preference), strings.Compare(a.Name, b.Name))
	})
	// A host listed twice keeps its most preferred (first) entry.
	out := hosts[:0]
	for _, h := range hosts {
		if !slices.ContainsFunc(out, func(o Host) bool { return o.Name == h.Name }) {
			out = append(out, h)
		}
	}
	return Records{Hosts: out}
}
