package address

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, username, domain, want string
	}{
		// The first four are Reacher's own tests (core/src/syntax/normalize.rs).
		{"gmail drops dots", "a.b.c", "gmail.com", "abc@gmail.com"},
		{"gmail drops sub-address", "abc+123", "gmail.com", "abc@gmail.com"},
		{"googlemail becomes gmail", "abc", "googlemail.com", "abc@gmail.com"},
		{"all at once", "A.B.C+123", "googlemail.com", "abc@gmail.com"},
		{"only the first plus counts", "a.b+c+d", "gmail.com", "ab@gmail.com"},
		{"domain in any case", "Ab", "GMail.COM", "ab@gmail.com"},
		{"non-ASCII letters kept", "Éa.B", "gmail.com", "Éab@gmail.com"},
		{"empty after the tag, as Reacher", "+tag", "gmail.com", "@gmail.com"},
		{"other providers unchanged", "John.Doe+x", "example.com", "John.Doe+x@example.com"},
		{"outlook unchanged", "First.Last+x", "outlook.com", "First.Last+x@outlook.com"},
		{"gmail lookalike unchanged", "a.b", "gmail.com.evil.example", "a.b@gmail.com.evil.example"},
		{"quoted kept", `"a b"`, "example.com", `"a b"@example.com`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.username, tt.domain); got != tt.want {
				t.Errorf("Normalize(%q, %q) = %q, want %q", tt.username, tt.domain, got, tt.want)
			}
		})
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	for _, in := range []string{"A.B.C+123@googlemail.com", "x.y@gmail.com", "Mixed.Case@example.com"} {
		t.Run(in, func(t *testing.T) {
			user, domain, _ := strings.Cut(in, "@")
			once := Normalize(user, domain)
			user, domain, _ = strings.Cut(once, "@")
			if twice := Normalize(user, domain); twice != once {
				t.Errorf("Normalize is not idempotent: %q then %q", once, twice)
			}
		})
	}
}
