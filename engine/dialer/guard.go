package dialer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrPrivateAddress is wrapped by every error CheckAddr returns: the
// address must not be connected to on behalf of a caller (SSRF guard).
var ErrPrivateAddress = errors.New("private or reserved address")

// AddrError is the error CheckAddr returns. It unwraps to
// ErrPrivateAddress.
type AddrError struct {
	// Addr is the refused address, without any IPv6 zone.
	Addr netip.Addr
	// Embedded is the IPv4 address carried inside Addr (IPv4-mapped,
	// NAT64 or 6to4) when that is what was refused; invalid otherwise.
	Embedded netip.Addr
	// Range is the special-purpose block containing the address.
	Range netip.Prefix
	// Name describes the block, e.g. "private-use".
	Name string
	// Ref is the RFC defining the block.
	Ref string
}

// Error names the address and the range.
func (e *AddrError) Error() string {
	if !e.Addr.IsValid() {
		return "dialer: invalid address"
	}
	if e.Embedded.IsValid() {
		return fmt.Sprintf("dialer: address %s embeds IPv4 %s, which is in %s range %s (%s)",
			e.Addr, e.Embedded, e.Name, e.Range, e.Ref)
	}
	return fmt.Sprintf("dialer: address %s is in %s range %s (%s)", e.Addr, e.Name, e.Range, e.Ref)
}

// Unwrap returns ErrPrivateAddress.
func (e *AddrError) Unwrap() error { return ErrPrivateAddress }

// CheckAddr returns nil if ip is a global unicast address that mail may
// be probed at, and otherwise an *AddrError wrapping ErrPrivateAddress.
//
// Refused: the IANA special-purpose blocks that never hold a public mail
// server (RFC 6890 registries): loopback, RFC 1918, CGNAT, link-local,
// ULA, unspecified, "this network", multicast, broadcast and reserved
// space. Documentation and benchmarking ranges are refused as well: they
// are never routed on the Internet, so an MX there is a mistake or an
// attack, and 198.18.0.0/15 in particular is used inside networks (lab
// gear, the fake-IP answers of some DNS proxies). IPv6 forms that carry
// an IPv4 address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4) are judged by
// that address, since connecting to them reaches it.
func CheckAddr(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("dialer: invalid address: %w", ErrPrivateAddress)
	}
	// A zone only qualifies scoped (link-local) addresses; judge the
	// address itself.
	ip = ip.WithZone("")
	if ip.Is4() {
		r := v4Ranges()
		return refuse(ip, netip.Addr{}, "", &r)
	}
	if v4, how, ok := embeddedV4(ip); ok {
		r := v4Ranges()
		return refuse(ip, v4, how, &r)
	}
	r := v6Ranges()
	return refuse(ip, netip.Addr{}, "", &r)
}

// addrRange is one special-purpose block.
type addrRange struct {
	prefix    netip.Prefix
	name, ref string
}

// refuse returns an *AddrError if ip, or the IPv4 address embedded in it
// (how names the embedding), lies in one of ranges.
func refuse(ip, embedded netip.Addr, how string, ranges *[16]addrRange) error {
	probe := ip
	if embedded.IsValid() {
		probe = embedded
	}
	for _, r := range ranges {
		if !r.prefix.Contains(probe) {
			continue
		}
		name := r.name
		if how != "" {
			name = how + " " + name
		}
		return &AddrError{Addr: ip, Embedded: embedded, Range: r.prefix, Name: name, Ref: r.ref}
	}
	return nil
}

// embeddedV4 returns the IPv4 address that connecting to ip would reach:
// IPv4-mapped (RFC 4291 §2.5.5.2), NAT64 well-known prefix (RFC 6052 §2.1)
// and 6to4 (RFC 3056 §2).
func embeddedV4(ip netip.Addr) (v4 netip.Addr, how string, ok bool) {
	b := ip.As16()
	switch {
	case ip.Is4In6():
		return ip.Unmap(), "IPv4-mapped", true
	case pfx6(0x0064_ff9b_0000_0000, 96).Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case pfx6(0x2002_0000_0000_0000, 16).Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

// v4Ranges lists the refused IPv4 blocks, more specific first. It is a
// function rather than a package variable so that no caller can alter it.
func v4Ranges() [16]addrRange {
	return [...]addrRange{
		{pfx4(0, 0, 0, 0, 32), "unspecified", "RFC 1122 §3.2.1.3"},
		{pfx4(0, 0, 0, 0, 8), "\"this network\"", "RFC 1122 §3.2.1.3"},
		{pfx4(10, 0, 0, 0, 8), "private-use", "RFC 1918"},
		{pfx4(100, 64, 0, 0, 10), "shared address space (CGNAT)", "RFC 6598"},
		{pfx4(127, 0, 0, 0, 8), "loopback", "RFC 1122 §3.2.1.3"},
		{pfx4(169, 254, 0, 0, 16), "link-local", "RFC 3927"},
		{pfx4(172, 16, 0, 0, 12), "private-use", "RFC 1918"},
		{pfx4(192, 0, 0, 0, 24), "IETF protocol assignments", "RFC 6890"},
		{pfx4(192, 0, 2, 0, 24), "documentation (TEST-NET-1)", "RFC 5737"},
		{pfx4(192, 168, 0, 0, 16), "private-use", "RFC 1918"},
		{pfx4(198, 18, 0, 0, 15), "benchmarking", "RFC 2544"},
		{pfx4(198, 51, 100, 0, 24), "documentation (TEST-NET-2)", "RFC 5737"},
		{pfx4(203, 0, 113, 0, 24), "documentation (TEST-NET-3)", "RFC 5737"},
		{pfx4(224, 0, 0, 0, 4), "multicast", "RFC 5771"},
		{pfx4(255, 255, 255, 255, 32), "limited broadcast", "RFC 919"},
		{pfx4(240, 0, 0, 0, 4), "reserved", "RFC 1112 §4"},
	}
}

// v6Ranges lists the refused IPv6 blocks, more specific first; the forms
// carrying IPv4 are handled by embeddedV4 before this list is consulted.
func v6Ranges() [16]addrRange {
	return [...]addrRange{
		{netip.PrefixFrom(netip.IPv6Unspecified(), 128), "unspecified", "RFC 4291 §2.5.2"},
		{netip.PrefixFrom(netip.IPv6Loopback(), 128), "loopback", "RFC 4291 §2.5.3"},
		{pfx6(0, 96), "IPv4-compatible (deprecated)", "RFC 4291 §2.5.5.1"},
		{pfx6(0x0064_ff9b_0001_0000, 48), "local-use NAT64", "RFC 8215"},
		{pfx6(0, 8), "reserved", "RFC 4291 §2.4"},
		{pfx6(0x0100_0000_0000_0000, 64), "discard-only", "RFC 6666"},
		{pfx6(0x2001_0000_0000_0000, 32), "Teredo", "RFC 4380"},
		{pfx6(0x2001_0002_0000_0000, 48), "benchmarking", "RFC 5180"},
		{pfx6(0x2001_0010_0000_0000, 28), "ORCHID (deprecated)", "RFC 4843"},
		{pfx6(0x2001_0020_0000_0000, 28), "ORCHIDv2", "RFC 7343"},
		{pfx6(0x2001_0db8_0000_0000, 32), "documentation", "RFC 3849"},
		{pfx6(0x3fff_0000_0000_0000, 20), "documentation", "RFC 9637"},
		{pfx6(0xfc00_0000_0000_0000, 7), "unique local (ULA)", "RFC 4193"},
		{pfx6(0xfe80_0000_0000_0000, 10), "link-local", "RFC 4291 §2.5.6"},
		{pfx6(0xfec0_0000_0000_0000, 10), "site-local (deprecated)", "RFC 3879"},
		{pfx6(0xff00_0000_0000_0000, 8), "multicast", "RFC 4291 §2.7"},
	}
}

func pfx4(a, b, c, d byte, bits int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{a, b, c, d}), bits)
}

// pfx6 builds an IPv6 prefix from its first 64 bits, which is all any
// block above needs.
func pfx6(hi uint64, bits int) netip.Prefix {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	return netip.PrefixFrom(netip.AddrFrom16(b), bits)
}
