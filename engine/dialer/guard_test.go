package dialer

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckAddrRefused(t *testing.T) {
	tests := []struct {
		addr, prefix string
		embedded     string // IPv4 carried inside an IPv6 address
	}{
		// IPv4
		{"0.0.0.0", "0.0.0.0/32", ""},
		{"0.1.2.3", "0.0.0.0/8", ""},
		{"10.0.0.1", "10.0.0.0/8", ""},
		{"10.255.255.255", "10.0.0.0/8", ""},
		{"100.64.0.1", "100.64.0.0/10", ""},
		{"100.127.255.254", "100.64.0.0/10", ""},
		{"127.0.0.1", "127.0.0.0/8", ""},
		{"127.0.0.9", "127.0.0.0/8", ""},
		{"169.254.169.254", "169.254.0.0/16", ""}, // cloud metadata service
		{"172.16.0.1", "172.16.0.0/12", ""},
		{"172.31.255.255", "172.16.0.0/12", ""},
		{"192.0.0.8", "192.0.0.0/24", ""},
		{"192.0.2.25", "192.0.2.0/24", ""},
		{"192.168.1.1", "192.168.0.0/16", ""},
		{"198.18.0.1", "198.18.0.0/15", ""},
		{"198.19.255.255", "198.18.0.0/15", ""},
		{"198.51.100.7", "198.51.100.0/24", ""},
		{"203.0.113.9", "203.0.113.0/24", ""},
		{"224.0.0.1", "224.0.0.0/4", ""},
		{"239.255.255.250", "224.0.0.0/4", ""},
		{"240.0.0.1", "240.0.0.0/4", ""},
		{"255.255.255.255", "255.255.255.255/32", ""},
		// IPv6
		{"::", "::/128", ""},
		{"::1", "::1/128", ""},
		{"::10.0.0.1", "::/96", ""},
		{"::1:2:3:4:5", "::/8", ""},
		{"64:ff9b:1::1", "64:ff9b:1::/48", ""},
		{"100::1", "100::/64", ""},
		{"2001::1", "2001::/32", ""},
		{"2001:2::1", "2001:2::/48", ""},
		{"2001:10::1", "2001:10::/28", ""},
		{"2001:20::1", "2001:20::/28", ""},
		{"2001:db8::25", "2001:db8::/32", ""},
		{"3fff::1", "3fff::/20", ""},
		{"fc00::1", "fc00::/7", ""},
		{"fd12:3456:789a::1", "fc00::/7", ""},
		{"fe80::1", "fe80::/10", ""},
		{"fe80::1%eth0", "fe80::/10", ""},
		{"febf::1", "fe80::/10", ""},
		{"fec0::1", "fec0::/10", ""},
		{"ff02::1", "ff00::/8", ""},
		// IPv6 forms carrying a refused IPv4 address
		{"::ffff:127.0.0.1", "127.0.0.0/8", "127.0.0.1"},
		{"::ffff:10.1.2.3", "10.0.0.0/8", "10.1.2.3"},
		{"::ffff:169.254.169.254", "169.254.0.0/16", "169.254.169.254"},
		{"::ffff:100.64.0.1", "100.64.0.0/10", "100.64.0.1"},
		{"::ffff:0.0.0.0", "0.0.0.0/32", "0.0.0.0"},
		{"::ffff:255.255.255.255", "255.255.255.255/32", "255.255.255.255"},
		{"64:ff9b::7f00:1", "127.0.0.0/8", "127.0.0.1"},
		{"64:ff9b::c0a8:101", "192.168.0.0/16", "192.168.1.1"},
		{"2002:a00:1::1", "10.0.0.0/8", "10.0.0.1"},
		{"2002:7f00:1::", "127.0.0.0/8", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			err := CheckAddr(ip)
			if !errors.Is(err, ErrPrivateAddress) {
				t.Fatalf("CheckAddr(%s) = %v, want ErrPrivateAddress", tt.addr, err)
			}
			var ae *AddrError
			if !errors.As(err, &ae) {
				t.Fatalf("CheckAddr(%s) error %T is not *AddrError", tt.addr, err)
			}
			if got := ae.Range.String(); got != tt.prefix {
				t.Errorf("range = %s, want %s", got, tt.prefix)
			}
			if tt.embedded != "" && ae.Embedded.String() != tt.embedded {
				t.Errorf("embedded = %v, want %s", ae.Embedded, tt.embedded)
			}
			msg := err.Error()
			if !strings.Contains(msg, ae.Addr.String()) || !strings.Contains(msg, tt.prefix) || ae.Name == "" || ae.Ref == "" {
				t.Errorf("error %q should name the address, range %s, a name and an RFC", msg, tt.prefix)
			}
		})
	}
}

func TestCheckAddrAllowed(t *testing.T) {
	for _, s := range []string{
		"8.8.8.8", "1.1.1.1", "142.250.27.26", // public mail hosts
		"1.0.0.0", "9.255.255.255", "11.0.0.0",
		"100.63.255.255", "100.128.0.0", // just outside CGNAT
		"126.255.255.255", "128.0.0.0",
		"169.253.255.255", "169.255.0.0",
		"172.15.255.255", "172.32.0.0", // just outside 172.16/12
		"192.0.1.255", "192.0.3.0", "192.167.255.255", "192.169.0.0",
		"198.17.255.255", "198.20.0.0", "198.51.99.255", "203.0.112.255",
		"223.255.255.255",
		"2607:f8b0:4004:c1b::1a", "2a00:1450:4001:c02::1b", "2001:4860:4860::8888",
		"2001:200::1", "2001:db9::1", "3fff:1000::1", "fbff::1", "fe7f::1",
		"::ffff:8.8.8.8",    // IPv4-mapped public
		"64:ff9b::808:808",  // NAT64 of 8.8.8.8
		"2002:808:808::1",   // 6to4 of 8.8.8.8
		"2607:f8b0::1%eth0", // zone stripped, address global
	} {
		t.Run(s, func(t *testing.T) {
			if err := CheckAddr(netip.MustParseAddr(s)); err != nil {
				t.Errorf("CheckAddr(%s) = %v, want nil", s, err)
			}
		})
	}
}

func TestCheckAddrInvalid(t *testing.T) {
	if err := CheckAddr(netip.Addr{}); !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("CheckAddr(zero Addr) = %v, want ErrPrivateAddress", err)
	}
}
