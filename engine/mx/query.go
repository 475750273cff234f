package mx

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/miekg/dns"
)

const (
	// ednsSize is the UDP payload size advertised with EDNS0 (RFC 6891 §6.2.5),
	// so that large MX sets rarely need the TCP fallback.
	ednsSize = 4096
	// maxCNAME bounds CNAME chains; real chains are short, and the bound
	// stops loops.
	maxCNAME = 8
	// maxNegativeTTL caps negative caching, as RFC 2308 §5 advises
	// (1-3 hours); a shorter cap lets newly created domains show up soon.
	maxNegativeTTL = time.Hour
	// maxPositiveTTL caps positive caching so that a long TTL cannot pin a
	// stale MX set for days.
	maxPositiveTTL = 24 * time.Hour
)

// answer is the outcome of one question once CNAMEs have been followed.
type answer struct {
	rrs    []dns.RR      // records of the asked type at the end of the chain
	ttl    time.Duration // how long rrs may be cached: the RRset's and chain's lowest TTL
	nx     bool          // the name (or the end of its chain) does not exist
	negTTL time.Duration // how long an nx or no-data answer may be cached; 0 without SOA
}

// query asks for name's records of type qtype, following CNAMEs: those a
// resolver put in the answer and, when it returned only a CNAME, by asking
// again for the target.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (answer, error) {
	var chainTTL uint32 = math.MaxUint32
	target := name
	hops := 0
	for {
		msg, err := r.exchange(ctx, target, qtype)
		if err != nil {
			return answer{}, err
		}
		rrs, end, ttl, n := walk(msg.Answer, target, qtype)
		hops += n
		if hops > maxCNAME {
			return answer{}, &ResolveError{Domain: name, Rcode: msg.Rcode, Err: errCNAMEChain}
		}
		chainTTL = min(chainTTL, ttl)
		switch {
		case len(rrs) > 0:
			return answer{rrs: rrs, ttl: seconds(chainTTL, maxPositiveTTL)}, nil
		case msg.Rcode == dns.RcodeNameError:
			// RFC 6604 §3: after a CNAME chain the rcode describes its end.
			return answer{nx: true, negTTL: min(negativeTTL(msg), seconds(chainTTL, maxNegativeTTL))}, nil
		case end == target:
			return answer{negTTL: min(negativeTTL(msg), seconds(chainTTL, maxNegativeTTL))}, nil
		}
		target = end
	}
}

// walk follows the CNAME chain from name through an answer section and
// returns the records of type qtype at its end, the name at its end, the
// lowest TTL seen and the number of CNAMEs followed.
func walk(section []dns.RR, name string, qtype uint16) (rrs []dns.RR, end string, ttl uint32, hops int) {
	ttl = math.MaxUint32
	end = name
	for ; hops <= maxCNAME; hops++ {
		var cname *dns.CNAME
		for _, rr := range section {
			h := rr.Header()
			if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, end) {
				continue
			}
			if h.Rrtype == qtype {
				rrs = append(rrs, rr)
				ttl = min(ttl, h.Ttl)
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if len(rrs) > 0 || cname == nil {
			return rrs, end, ttl, hops
		}
		ttl = min(ttl, cname.Hdr.Ttl)
		end = dns.CanonicalName(cname.Target)
	}
	return nil, end, ttl, hops
}

// negativeTTL is how long a negative answer may be cached: per RFC 2308 §5,
// the lower of the SOA record's TTL and its MINIMUM field. Without an SOA the
// answer must not be cached.
func negativeTTL(msg *dns.Msg) time.Duration {
	for _, rr := range msg.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return seconds(min(soa.Hdr.Ttl, soa.Minttl), maxNegativeTTL)
		}
	}
	return 0
}

func seconds(ttl uint32, limit time.Duration) time.Duration {
	return min(time.Duration(ttl)*time.Second, limit)
}

// exchange asks the configured servers in turn until one gives a usable
// answer: NOERROR or NXDOMAIN. SERVFAIL, REFUSED and the like say nothing
// about the name, so the next server is tried.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(ednsSize, false)
	rcode := -1
	var lastErr error
	for _, server := range r.servers {
		resp, err := r.exchangeServer(ctx, q, server)
		if err != nil {
			lastErr = fmt.Errorf("%s: %w", server, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError {
			return resp, nil
		}
		rcode = resp.Rcode
		lastErr = &rcodeError{server: server, rcode: resp.Rcode}
	}
	return nil, &ResolveError{Domain: name, Rcode: rcode, Err: lastErr}
}

// exchangeServer sends q to one server over UDP, up to r.attempts times when
// no answer comes, and repeats it over TCP when the UDP answer is truncated
// (RFC 1035 §4.2.1, RFC 7766 §5).
func (r *Resolver) exchangeServer(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, error) {
	var err error
	for range r.attempts {
		var resp *dns.Msg
		resp, err = r.roundTrip(ctx, r.udp, q, server)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			continue
		}
		if resp.Truncated {
			return r.roundTrip(ctx, r.tcp, q, server)
		}
		if resp.Rcode == dns.RcodeFormatError && q.IsEdns0() != nil {
			// RFC 6891 §7: a server that does not know EDNS0 answers
			// FORMERR; ask again without it.
			plain := q.Copy()
			plain.Extra = nil
			return r.roundTrip(ctx, r.udp, plain, server)
		}
		return resp, nil
	}
	return nil, err
}

// roundTrip sends one query over c within the per-query timeout. When the
// query's context ends, the error wraps the context's error, so that callers
// can tell a timeout or cancellation from a network failure.
func (r *Resolver) roundTrip(ctx context.Context, c *dns.Client, q *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	resp, err := roundTripConn(ctx, c, q, server)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, err
	}
	// Some servers omit the question from error replies; the ID matched.
	if len(resp.Question) > 0 && (resp.Question[0].Qtype != q.Question[0].Qtype ||
		!strings.EqualFold(resp.Question[0].Name, q.Question[0].Name)) {
		return nil, errMismatch
	}
	return resp, nil
}

func roundTripConn(ctx context.Context, c *dns.Client, q *dns.Msg, server string) (*dns.Msg, error) {
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// ExchangeWithConnContext obeys ctx's deadline but not its cancellation:
	// expire the connection's deadline when ctx ends so the read returns.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, q, conn)
	return resp, err
}
