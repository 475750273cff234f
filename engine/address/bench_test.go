package address

import "testing"

func BenchmarkParseAddress(b *testing.B) {
	for _, bb := range []struct{ name, in string }{
		{"ascii", "someone.else+tag@example.com"},
		{"gmail", "Some.One+x@gmail.com"},
		{"uppercase domain", "someone@Example.COM"},
		{"quoted", `"some one"@example.com`},
		{"idn", "josé@bücher.de"},
		{"invalid", "John Doe <john@example.com>"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse(bb.in)
			}
		})
	}
}

func BenchmarkSuggest(b *testing.B) {
	for _, d := range []string{"gmali.com", "example.com", "some-long-company-domain.example"} {
		b.Run(d, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Suggest(d)
			}
		})
	}
}
