package engine

import (
	"testing"

	"github.com/mailprobe/mailprobe/engine/address"
)

// TestSyntaxOf checks the one rule the engine and the API's cache share:
// a typo suggestion only for an invalid or unknown verdict.
func TestSyntaxOf(t *testing.T) {
	tests := []struct {
		email   string
		verdict Reachability
		want    string // "" for no suggestion
	}{
		{"someone@gmial.com", Invalid, "someone@gmail.com"},
		{"someone@gmial.com", Unknown, "someone@gmail.com"},
		{"someone@gmial.com", Safe, ""},
		{"someone@gmial.com", Risky, ""},
		{"someone@example.com", Invalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.email+"/"+string(tt.verdict), func(t *testing.T) {
			a, err := address.Parse(tt.email)
			if err != nil {
				t.Fatal(err)
			}
			s := SyntaxOf(a, tt.verdict)
			if !s.IsValidSyntax || s.Address == nil || *s.Address != a.Address || s.Domain != a.Domain {
				t.Errorf("SyntaxOf(%s) = %+v, want the address's fields", tt.email, s)
			}
			got := ""
			if s.Suggestion != nil {
				got = *s.Suggestion
			}
			if got != tt.want {
				t.Errorf("suggestion = %q, want %q", got, tt.want)
			}
		})
	}
}
