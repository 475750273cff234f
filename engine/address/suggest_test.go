package address

import (
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	tests := []struct {
		domain string
		want   string // "" for no suggestion
	}{
		{"gmali.com", "gmail.com"}, // Reacher's test
		{"gmial.com", "gmail.com"}, // a transposition costs two Levenshtein edits
		{"gmal.com", "gmail.com"},
		{"gmaill.com", "gmail.com"},
		{"gmail.co", "gmail.com"},
		{"gmail.cm", "gmail.com"},
		{"gmail.con", "gmail.com"},
		{"GMALI.COM", "gmail.com"},
		{"yahooo.com", "yahoo.com"},
		{"yaho.com", "yahoo.com"},
		{"outlok.com", "outlook.com"},
		{"hotmial.com", "hotmail.com"},
		{"hotmail.co", "hotmail.com"},
		{"protonmial.com", "protonmail.com"},
		{"iclod.com", "icloud.com"},
		{"yandx.com", "yandex.com"},
		{"gotmail.com", "hotmail.com"}, // closest wins; Reacher would say gmail.com (2 edits, listed first)
		// No suggestion:
		{"gmail.com", ""},
		{"Yahoo.com", ""},
		{"protonmail.com", ""},
		{"example.com", ""},
		{"gmx.com", ""},
		{"aws.com", ""},
		{"gmaiiiil.com", ""}, // three edits
		{"mail.com", ""},
		{"email.com", ""},
		{"ymail.com", ""},
		{"foxmail.com", ""},
		{"yopmail.com", ""},
		{"hotmail.ca", ""},
		{"yahoo.cn", ""},
		{"protonmail.ch", ""},
		{"outlook.cz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			got, ok := Suggest(tt.domain)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Suggest(%q) = %q, %v; want %q, %v", tt.domain, got, ok, tt.want, tt.want != "")
			}
		})
	}
}

func TestAddressSuggestion(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"test@gmali.com", "test@gmail.com"},
		{"Jo.Doe@YAHOOO.com", "Jo.Doe@yahoo.com"},
		{"test@gmail.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := a.Suggestion()
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Suggestion() = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"gmial.com", "gmail.com", 2},
		{"GMAIL.COM", "gmail.com", 0},
		{"flaw", "lawn", 2},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := distance(tt.a, tt.b, 100); got != tt.want {
				t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// TestProviderLists guards the assumptions distance and inList make.
func TestProviderLists(t *testing.T) {
	for _, list := range []string{providers, realLookalikes} {
		for _, p := range strings.Fields(list) {
			if len(p) > maxProviderLen || p != strings.ToLower(p) || strings.Count(p, ".") != 1 {
				t.Errorf("list entry %q must be lower case, one dot, at most %d bytes", p, maxProviderLen)
			}
		}
		if strings.Join(strings.Fields(list), " ") != list {
			t.Errorf("list %q must be single-space separated", list)
		}
	}
}

// TestDistanceLimit checks that the early exit never changes which side of
// the limit a distance falls on.
func TestDistanceLimit(t *testing.T) {
	pairs := [][2]string{
		{"example.com", "gmail.com"}, {"gmial.com", "gmail.com"}, {"gmaiiiil.com", "gmail.com"},
		{"ca", "com"}, {"co", "com"}, {"hotmail.com", "outlook.com"},
	}
	for _, p := range pairs {
		full := distance(p[0], p[1], 100)
		for limit := 0; limit <= 3; limit++ {
			got := distance(p[0], p[1], limit)
			if (got > limit) != (full > limit) || (full <= limit && got != full) {
				t.Errorf("distance(%q, %q, %d) = %d, full distance %d", p[0], p[1], limit, got, full)
			}
		}
	}
}
