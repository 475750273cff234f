package dnstest

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// maxChase bounds CNAME chasing so that a loop in a test zone cannot hang the
// server.
const maxChase = 16

func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	_, udp := w.RemoteAddr().(*net.UDPAddr)

	s.mu.Lock()
	s.queries++
	s.perName[queryKey{name, q.Qtype}]++
	h := s.holds[name]
	drop := s.dropped[name]
	s.mu.Unlock()

	if h != nil {
		<-h.ch
	}
	if drop {
		return
	}
	resp := s.answer(req, name, q.Qtype, udp)
	_ = w.WriteMsg(resp)
}

// answer builds the reply to one question from the server's state.
func (s *Server) answer(req *dns.Msg, name string, qtype uint16, udp bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		// RFC 6891 §6.2.3: the requester's payload size bounds the reply,
		// and below 512 it is treated as 512.
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		m.SetEdns0(uint16(size), false)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if rcode, ok := s.rcodes[name]; ok {
		m.Rcode = rcode
		return m
	}
	if udp && s.truncated[name] {
		m.Truncated = true
		return m
	}
	s.resolve(m, name, qtype)
	if udp {
		// A real server truncates what does not fit in the requester's
		// buffer (RFC 1035 §4.2.1, RFC 6891 §7).
		m.Truncate(size)
	}
	return m
}

// resolve fills m with name's records of type qtype, following CNAMEs as a
// recursive resolver does. Callers hold s.mu.
func (s *Server) resolve(m *dns.Msg, name string, qtype uint16) {
	cur := name
	for range maxChase {
		rrs := s.records[cur]
		if len(rrs) == 0 {
			// RFC 6604 §3: in a chain, the rcode describes the last name.
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, s.soa(cur))
			return
		}
		found := false
		var cname *dns.CNAME
		for _, rr := range rrs {
			switch {
			case rr.Header().Rrtype == qtype || qtype == dns.TypeANY:
				m.Answer = append(m.Answer, dns.Copy(rr))
				found = true
			case rr.Header().Rrtype == dns.TypeCNAME:
				cname = rr.(*dns.CNAME)
			}
		}
		if found {
			return
		}
		if cname == nil {
			// NODATA (RFC 2308 §2.2): the name exists, the type does not.
			m.Ns = append(m.Ns, s.soa(cur))
			return
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		if s.noChase {
			return
		}
		cur = dns.CanonicalName(cname.Target)
	}
}

// soa returns the SOA record that negative answers for name carry in their
// authority section (RFC 2308 §3). The zone apex is taken to be the last two
// labels of name, which suits names like "mx.example.test.".
func (s *Server) soa(name string) dns.RR {
	apex := name
	labels := dns.SplitDomainName(name)
	if len(labels) > 2 {
		apex = dns.Fqdn(strings.Join(labels[len(labels)-2:], "."))
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.negTTL},
		Ns:      dns.Fqdn("ns." + strings.TrimSuffix(apex, ".")),
		Mbox:    dns.Fqdn("hostmaster." + strings.TrimSuffix(apex, ".")),
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  s.negTTL,
	}
}
