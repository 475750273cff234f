package address

import (
	"errors"
	"strings"
	"testing"
)

// long builds a string of n copies of c.
func long(c string, n int) string { return strings.Repeat(c, n) }

// domainOf returns an all-letter domain of exactly n octets (n >= 3) made of
// labels of at most 63 octets.
func domainOf(n int) string {
	var labels []string
	for n > 0 {
		l := min(63, n)
		if n-l == 1 { // do not leave a lone dot with no room for a label
			l--
		}
		labels = append(labels, long("d", l))
		n -= l + 1
	}
	return strings.Join(labels, ".")
}

func TestParseValid(t *testing.T) {
	local64 := long("a", 64)
	domain189 := domainOf(189) // 64 + 1 + 189 = 254
	tests := []struct {
		name string
		in   string
		want Address // Input is checked separately
	}{
		{"simple", "simple@example.com",
			Address{Username: "simple", Domain: "example.com", Address: "simple@example.com", Normalized: "simple@example.com"}},
		{"surrounding whitespace", " \t padded@example.com \r\n",
			Address{Username: "padded", Domain: "example.com", Address: "padded@example.com", Normalized: "padded@example.com"}},
		{"domain lower-cased, local kept", "First.Last@Example.COM",
			Address{Username: "First.Last", Domain: "example.com", Address: "First.Last@example.com", Normalized: "First.Last@example.com"}},
		{"plus tag kept outside gmail", "user+tag@example.com",
			Address{Username: "user+tag", Domain: "example.com", Address: "user+tag@example.com", Normalized: "user+tag@example.com"}},
		{"shortest", "a@b.co",
			Address{Username: "a", Domain: "b.co", Address: "a@b.co", Normalized: "a@b.co"}},
		{"all atext specials", "!#$%&'*+-/=?^_`{|}~@example.com",
			Address{Username: "!#$%&'*+-/=?^_`{|}~", Domain: "example.com", Address: "!#$%&'*+-/=?^_`{|}~@example.com", Normalized: "!#$%&'*+-/=?^_`{|}~@example.com"}},
		{"digits and hyphens in labels", "u@3com.my-site.example",
			Address{Username: "u", Domain: "3com.my-site.example", Address: "u@3com.my-site.example", Normalized: "u@3com.my-site.example"}},
		{"IDN domain and UTF-8 local part", "josé@bücher.de",
			Address{Username: "josé", Domain: "xn--bcher-kva.de", Address: "josé@xn--bcher-kva.de", Normalized: "josé@xn--bcher-kva.de"}},
		{"IDN upper case", "u@BÜCHER.DE",
			Address{Username: "u", Domain: "xn--bcher-kva.de", Address: "u@xn--bcher-kva.de", Normalized: "u@xn--bcher-kva.de"}},
		{"IDN all labels", "u@例え.テスト",
			Address{Username: "u", Domain: "xn--r8jz45g.xn--zckzah", Address: "u@xn--r8jz45g.xn--zckzah", Normalized: "u@xn--r8jz45g.xn--zckzah"}},
		{"ACE label upper case", "u@XN--BCHER-KVA.DE",
			Address{Username: "u", Domain: "xn--bcher-kva.de", Address: "u@xn--bcher-kva.de", Normalized: "u@xn--bcher-kva.de"}},
		{"full-width letters mapped", "u@ＥＸＡＭＰＬＥ.com",
			Address{Username: "u", Domain: "example.com", Address: "u@example.com", Normalized: "u@example.com"}},
		{"ideographic full stop mapped", "u@example。com",
			Address{Username: "u", Domain: "example.com", Address: "u@example.com", Normalized: "u@example.com"}},
		{"quoted with space", `"john doe"@example.com`,
			Address{Username: `"john doe"`, Domain: "example.com", Address: `"john doe"@example.com`, Normalized: `"john doe"@example.com`}},
		{"quoted with at sign", `"a@b"@example.com`,
			Address{Username: `"a@b"`, Domain: "example.com", Address: `"a@b"@example.com`, Normalized: `"a@b"@example.com`}},
		{"quoted escaped quote and backslash", `"q\"u\\o"@example.com`,
			Address{Username: `"q\"u\\o"`, Domain: "example.com", Address: `"q\"u\\o"@example.com`, Normalized: `"q\"u\\o"@example.com`}},
		{"quoted specials", `"()<>[]:,;@ .."@example.com`,
			Address{Username: `"()<>[]:,;@ .."`, Domain: "example.com", Address: `"()<>[]:,;@ .."@example.com`, Normalized: `"()<>[]:,;@ .."@example.com`}},
		{"quoted UTF-8", `"é è"@example.com`,
			Address{Username: `"é è"`, Domain: "example.com", Address: `"é è"@example.com`, Normalized: `"é è"@example.com`}},
		{"gmail normalized", "Foo.Bar+news@GMail.com",
			Address{Username: "Foo.Bar+news", Domain: "gmail.com", Address: "Foo.Bar+news@gmail.com", Normalized: "foobar@gmail.com"}},
		{"googlemail normalized", "a.b@googlemail.com",
			Address{Username: "a.b", Domain: "googlemail.com", Address: "a.b@googlemail.com", Normalized: "ab@gmail.com"}},
		{"local part of exactly 64 octets", local64 + "@example.com",
			Address{Username: local64, Domain: "example.com", Address: local64 + "@example.com", Normalized: local64 + "@example.com"}},
		{"label of exactly 63 octets", "u@" + long("l", 63) + ".com",
			Address{Username: "u", Domain: long("l", 63) + ".com", Address: "u@" + long("l", 63) + ".com", Normalized: "u@" + long("l", 63) + ".com"}},
		{"address of exactly 254 octets", local64 + "@" + domain189,
			Address{Username: local64, Domain: domain189, Address: local64 + "@" + domain189, Normalized: local64 + "@" + domain189}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): unexpected error: %v", tt.in, err)
			}
			tt.want.Input = strings.TrimSpace(tt.in)
			if got != tt.want {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reason
	}{
		{"empty", "", Empty},
		{"only spaces", "   ", Empty},
		{"only newlines", "\r\n\t", Empty},
		{"invalid UTF-8", "\xff@example.com", InvalidUTF8},
		{"CRLF injection", "a@example.com\r\nRCPT TO:<b@example.com>", ControlChar},
		{"NUL", "a\x00b@example.com", ControlChar},
		{"DEL", "a\x7fb@example.com", ControlChar},
		{"C1 control", "a\u0085b@example.com", ControlChar},
		{"control in quotes", "\"a\x01\"@example.com", ControlChar},
		{"inner tab", "a\tb@example.com", Whitespace},
		{"tab in quotes", "\"a\tb\"@example.com", Whitespace},
		{"space in local", "john doe@example.com", Whitespace},
		{"space in domain", "john@exa mple.com", Whitespace},
		{"space before at", "john @example.com", Whitespace},
		{"no-break space in local", "a\u00a0b@example.com", Whitespace},
		{"display name", "John Doe <john@example.com>", DisplayName},
		{"quoted display name", `"John" <john@example.com>`, DisplayName},
		{"angle brackets", "<john@example.com>", DisplayName},
		{"trailing bracket", "john@example.com>", DisplayName},
		{"trailing comment", "john@example.com (John)", Comment},
		{"inner comment", "john(x)@example.com", Comment},
		{"no at", "plainaddress", NoAt},
		{"quoted without at", `"abc"`, NoAt},
		{"two ats", "a@b@example.com", MultipleAt},
		{"empty local", "@example.com", LocalEmpty},
		{"empty quoted local", `""@example.com`, LocalEmpty},
		{"comma in local", "jo,hn@example.com", BadLocal},
		{"quote inside atom", `jo"hn"@example.com`, BadLocal},
		{"backslash in atom", `jo\hn@example.com`, BadLocal},
		{"bracket in local", "jo[hn]@example.com", BadLocal},
		{"zero-width space", "a\u200bb@example.com", BadLocal},
		{"bidi override", "a\u202eb@example.com", BadLocal},
		{"leading dot", ".john@example.com", LocalDots},
		{"trailing dot in local", "john.@example.com", LocalDots},
		{"consecutive dots", "jo..hn@example.com", LocalDots},
		{"lone dot", ".@example.com", LocalDots},
		{"unterminated quote", `"abc@example.com`, BadQuoted},
		{"text after quoted", `"a"b@example.com`, BadQuoted},
		{"obsolete quoted words", `"a"."b"@example.com`, BadQuoted},
		{"escaped non-ASCII", `"a\é"@example.com`, BadQuoted},
		{"dangling escape", `"a\"@example.com`, BadQuoted},
		{"local part of 65 octets", long("a", 65) + "@example.com", LocalTooLong},
		{"quoted local part of 65 octets", `"` + long("a", 63) + `"@example.com`, LocalTooLong},
		{"UTF-8 local part over 64 octets", long("é", 33) + "@example.com", LocalTooLong},
		{"empty domain", "user@", DomainEmpty},
		{"IPv4 literal", "user@[192.0.2.1]", DomainLiteral},
		{"IPv6 literal", "user@[IPv6:2001:db8::1]", DomainLiteral},
		{"underscore", "user@exa_mple.com", BadDomain},
		{"bang", "user@exa!mple.com", BadDomain},
		{"bad punycode", "user@xn--a.com", BadIDN},
		{"ACE label ending in a hyphen", "user@xn--abc-.com", DomainHyphen},
		{"disallowed code point", "user@exa\u2488mple.com", BadIDN},
		{"trailing dot", "user@example.com.", DomainDots},
		{"leading dot in domain", "user@.example.com", DomainDots},
		{"empty label", "user@example..com", DomainDots},
		{"empty label in IDN", "user@bücher..de", DomainDots},
		{"leading hyphen", "user@-example.com", DomainHyphen},
		{"trailing hyphen", "user@example-.com", DomainHyphen},
		{"hyphen in IDN label", "user@-bücher.de", DomainHyphen},
		{"reserved double hyphen", "user@ab--cd.com", DomainHyphen},
		{"label of 64 octets", "user@" + long("l", 64) + ".com", LabelTooLong},
		{"domain of 254 octets", "u@" + domainOf(254), DomainTooLong},
		{"single label", "user@localhost", SingleLabel},
		{"bare IPv4", "user@127.0.0.1", NumericTLD},
		{"numeric TLD", "user@example.123", NumericTLD},
		{"address of 255 octets", long("a", 64) + "@" + domainOf(190), AddressTooLong},
		{"huge input", long("a", 2000) + "@example.com", AddressTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %#v, %v; want a *SyntaxError", tt.in, got, err)
			}
			if se.Reason != tt.want {
				t.Errorf("Parse(%q): reason %v, want %v", tt.in, se.Reason, tt.want)
			}
			if se.Input != tt.in {
				t.Errorf("SyntaxError.Input = %q, want %q", se.Input, tt.in)
			}
			if got != (Address{}) {
				t.Errorf("Parse(%q) returned a non-zero Address with an error: %#v", tt.in, got)
			}
		})
	}
}

func TestSyntaxErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *SyntaxError
		want string
	}{
		{"short", &SyntaxError{Input: "a..b@x.com", Reason: LocalDots},
			`invalid address "a..b@x.com": local part starts or ends with a dot or has consecutive dots`},
		{"truncated on a rune boundary", &SyntaxError{Input: long("a", 99) + "ééé", Reason: NoAt},
			`invalid address "` + long("a", 99) + `…": missing "@"`},
		{"unknown reason", &SyntaxError{Input: "x", Reason: 200}, `invalid address "x": invalid address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReasonNames(t *testing.T) {
	seen := make(map[string]Reason)
	for r := Empty; r <= AddressTooLong; r++ {
		name := r.String()
		if strings.HasPrefix(name, "reason(") || r.Message() == "invalid address" {
			t.Errorf("Reason %d has no name or message", r)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("Reason %d and %d share the name %q", prev, r, name)
		}
		seen[name] = r
	}
}

func TestRequiresSMTPUTF8(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"ascii@example.com", false},
		{"ascii@bücher.de", false}, // the domain goes out as punycode
		{"josé@example.com", true},
		{`"é"@example.com`, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.RequiresSMTPUTF8(); got != tt.want {
				t.Errorf("RequiresSMTPUTF8() = %v, want %v", got, tt.want)
			}
		})
	}
}
