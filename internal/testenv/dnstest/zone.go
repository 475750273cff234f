package dnstest

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// AddRR adds records as they are, keyed by their owner names.
func (s *Server) AddRR(rrs ...dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		name := dns.CanonicalName(rr.Header().Name)
		s.records[name] = append(s.records[name], dns.Copy(rr))
	}
}

// RR parses one record in zone-file syntax, such as
// "example.test. 60 IN MX 10 mx.example.test.", failing the test on error.
func RR(tb testing.TB, text string) dns.RR {
	tb.Helper()
	rr, err := dns.NewRR(text)
	if err != nil || rr == nil {
		tb.Fatalf("dnstest: parse %q: %v", text, err)
	}
	return rr
}

// AddMX adds an MX record for name pointing at host. A host of "." with
// preference 0 is a null MX (RFC 7505).
func (s *Server) AddMX(name string, pref uint16, host string) {
	s.AddRR(&dns.MX{Hdr: s.header(name, dns.TypeMX), Preference: pref, Mx: dns.Fqdn(host)})
}

// AddA adds an A record; ip must be an IPv4 address.
func (s *Server) AddA(name, ip string) {
	s.tb.Helper()
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		s.tb.Fatalf("dnstest: AddA(%q, %q): not an IPv4 address", name, ip)
	}
	s.AddRR(&dns.A{Hdr: s.header(name, dns.TypeA), A: addr.AsSlice()})
}

// AddAAAA adds an AAAA record; ip must be an IPv6 address.
func (s *Server) AddAAAA(name, ip string) {
	s.tb.Helper()
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() {
		s.tb.Fatalf("dnstest: AddAAAA(%q, %q): not an IPv6 address", name, ip)
	}
	s.AddRR(&dns.AAAA{Hdr: s.header(name, dns.TypeAAAA), AAAA: addr.AsSlice()})
}

// AddCNAME makes name an alias of target.
func (s *Server) AddCNAME(name, target string) {
	s.AddRR(&dns.CNAME{Hdr: s.header(name, dns.TypeCNAME), Target: dns.Fqdn(target)})
}

func (s *Server) header(name string, rrtype uint16) dns.RR_Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return dns.RR_Header{Name: dns.Fqdn(name), Rrtype: rrtype, Class: dns.ClassINET, Ttl: s.ttl}
}

// Remove deletes name's records and every toggle set for it (rcode,
// truncation, drop); a held gate for name is released.
func (s *Server) Remove(name string) {
	name = dns.CanonicalName(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, name)
	delete(s.rcodes, name)
	delete(s.truncated, name)
	delete(s.dropped, name)
	if h, ok := s.holds[name]; ok {
		h.release()
		delete(s.holds, name)
	}
}

// SetTTL sets the TTL, in seconds, of records added from now on by AddMX,
// AddA, AddAAAA and AddCNAME.
func (s *Server) SetTTL(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = ttl
}

// SetNegativeTTL sets the SOA TTL and MINIMUM sent with NXDOMAIN and NODATA
// answers, which resolvers use as the negative-caching TTL (RFC 2308 §5).
func (s *Server) SetNegativeTTL(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negTTL = ttl
}

// SetRcode makes every query for name answer with rcode and no records, for
// example dns.RcodeServerFailure or dns.RcodeRefused.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcodes[dns.CanonicalName(name)] = rcode
}

// Truncate makes UDP answers for name empty with the TC bit set, as a server
// does when the answer does not fit, so that clients must retry over TCP. TCP
// answers are unaffected.
func (s *Server) Truncate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncated[dns.CanonicalName(name)] = true
}

// Drop makes the server read and count queries for name but never answer
// them, over UDP or TCP, so that clients time out.
func (s *Server) Drop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped[dns.CanonicalName(name)] = true
}

// Hold makes queries for name wait, counted but unanswered, until release is
// called (or the test ends); then they are answered normally. It lets a test
// have many lookups in flight at once.
func (s *Server) Hold(name string) (release func()) {
	h := &hold{ch: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.holds[dns.CanonicalName(name)]; ok {
		old.release()
	}
	s.holds[dns.CanonicalName(name)] = h
	return h.release
}

// ChaseCNAME sets whether answers follow CNAME chains inside the server's
// records, as a recursive resolver does (the default), or stop at the first
// CNAME, leaving the client to query the target itself.
func (s *Server) ChaseCNAME(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noChase = !on
}
