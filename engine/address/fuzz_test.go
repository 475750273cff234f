package address

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"simple@example.com", " First.Last@Example.COM ", "josé@bücher.de", "u@例え.テスト",
		`"a@b"@example.com`, `"q\"u\\o"@example.com`, "Foo.Bar+x@GMail.com", "u@xn--bcher-kva.de",
		"u@ＥＸＡＭＰＬＥ.com", "John <j@example.com>", "a..b@example.com", "u@[192.0.2.1]",
		"u@example.com.", "u@-bü.de", "u@xn--a.com", "a@b@c.com", `""@x.com`, "u@1.2.3.4",
		long("a", 64) + "@" + domainOf(189),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := Parse(in)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Reason == 0 || strings.HasPrefix(se.Reason.String(), "reason(") {
				t.Fatalf("Parse(%q): error %v is not a *SyntaxError with a known reason", in, err)
			}
			return
		}
		checkInvariants(t, in, a)
		again, err := Parse(a.Address)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) fails: %v", in, a, a.Address, err)
		}
		want := a
		want.Input = a.Address
		if again != want {
			t.Fatalf("round trip of %q:\n got %#v\nwant %#v", in, again, want)
		}
	})
}

// checkInvariants checks what every valid Address promises.
func checkInvariants(t *testing.T, in string, a Address) {
	t.Helper()
	switch {
	case a.Input != strings.TrimSpace(in):
		t.Fatalf("Input %q is not the trimmed %q", a.Input, in)
	case a.Address != a.Username+"@"+a.Domain:
		t.Fatalf("Address %q != Username %q @ Domain %q", a.Address, a.Username, a.Domain)
	case a.Username == "" || len(a.Username) > maxLocal:
		t.Fatalf("local part %q has %d octets", a.Username, len(a.Username))
	case len(a.Address) > maxAddress:
		t.Fatalf("address %q has %d octets", a.Address, len(a.Address))
	case !strings.Contains(a.Domain, "."):
		t.Fatalf("domain %q has a single label", a.Domain)
	case a.Normalized != Normalize(a.Username, a.Domain):
		t.Fatalf("Normalized %q != Normalize() %q", a.Normalized, Normalize(a.Username, a.Domain))
	case !utf8.ValidString(a.Address) || strings.ContainsAny(a.Address, "\r\n\x00"):
		t.Fatalf("address %q is not clean UTF-8", a.Address)
	}
	for i := 0; i < len(a.Domain); i++ {
		if c := a.Domain[i]; !(isLDH(c) || c == '.') || 'A' <= c && c <= 'Z' {
			t.Fatalf("domain %q is not lower-case LDH", a.Domain)
		}
	}
}
