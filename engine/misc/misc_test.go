package misc

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// checker is built once for all tests: New parses 100 000 entries.
var checker = sync.OnceValue(New)

func TestIsDisposable(t *testing.T) {
	tests := []struct {
		domain string
		want   bool
	}{
		{"mailinator.com", true},
		{"MAILINATOR.COM", true},
		{"Mailinator.Com.", true},
		{"sub.mailinator.com", true},
		{"a.b.c.mailinator.com", true},
		{"guerrillamail.com", true},
		{"10minutemail.com", true},
		{"yopmail.com", true},
		{"gmail.com", false},
		{"example.com", false},
		{"mailinator.com.example.org", false}, // the listed name must be a suffix
		{"xmailinator.com", false},            // ... at a label boundary
		{"com", false},
		{"", false},
		{".", false},
		{"bücher.de", false},
		{"exa\u2488mple.com", false}, // IDNA rejects it: no match, no panic
	}
	c := checker()
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			if got := c.IsDisposable(tt.domain); got != tt.want {
				t.Errorf("IsDisposable(%q) = %v, want %v", tt.domain, got, tt.want)
			}
		})
	}
}

func TestIsRoleAccount(t *testing.T) {
	tests := []struct {
		username string
		want     bool
	}{
		{"admin", true},
		{"Admin", true},
		{"INFO", true},
		{"support", true},
		{"sales", true},
		{"postmaster", true},
		{"abuse", true},
		{"noreply", true},
		{"no-reply", true},
		{"webmaster", true},
		{"contact", true},
		{"hello", true},
		{"billing", true},
		{"test", true}, // Reacher's own test relies on this one
		{"human_resources", true},
		{"john.doe", false},
		{"support+eu", false}, // whole local part only, as Reacher
		{"admins-team", false},
		{"", false},
	}
	c := checker()
	for _, tt := range tests {
		t.Run(tt.username, func(t *testing.T) {
			if got := c.IsRoleAccount(tt.username); got != tt.want {
				t.Errorf("IsRoleAccount(%q) = %v, want %v", tt.username, got, tt.want)
			}
		})
	}
}

func TestIsFree(t *testing.T) {
	tests := []struct {
		domain string
		want   bool
	}{
		{"gmail.com", true},
		{"GMail.COM", true},
		{"gmail.com.", true},
		{"googlemail.com", true},
		{"yahoo.com", true},
		{"yahoo.co.uk", true},
		{"hotmail.com", true},
		{"hotmail.fr", true},
		{"outlook.com", true},
		{"live.com", true},
		{"icloud.com", true},
		{"aol.com", true},
		{"gmx.de", true},
		{"yandex.ru", true},
		{"mail.ru", true},
		{"proton.me", true},
		{"protonmail.com", true},
		{"müll.email", true},        // listed in Unicode upstream
		{"xn--mll-hoa.email", true}, // ... and found in punycode
		{"sub.gmail.com", false},    // exact domain only
		{"acme.example", false},     // (example.com is on the upstream list)
		{"mailprobe.dev", false},
		{"", false},
	}
	c := checker()
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			if got := c.IsFree(tt.domain); got != tt.want {
				t.Errorf("IsFree(%q) = %v, want %v", tt.domain, got, tt.want)
			}
		})
	}
}

// TestEveryEntryMatches reads the data files from disk, as a refresh
// would leave them, and checks that each entry is found: nothing is lost
// to parsing, sorting or canonicalization.
func TestEveryEntryMatches(t *testing.T) {
	c := checker()
	tests := []struct {
		file    string
		min     int
		size    int
		matches func(string) bool
	}{
		{"data/disposable_email_blocklist.conf", 4000, c.disposable.len(), c.IsDisposable},
		{"data/role_accounts.txt", 900, c.roles.len(), c.IsRoleAccount},
		{"data/free_email_providers.txt", 90000, c.free.len(), c.IsFree},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if tt.size < tt.min {
				t.Errorf("%d entries loaded, want at least %d", tt.size, tt.min)
			}
			for line := range strings.Lines(string(data)) {
				if e := strings.TrimSpace(line); e != "" && !tt.matches(e) {
					t.Errorf("entry %q is not matched", e)
				}
			}
		})
	}
}

func TestNewSet(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string
	}{
		{"comments, blanks, spaces", "# header\n\n  b.com \r\na.com\n", []string{"a.com", "b.com"}},
		{"unsorted and duplicated", "c.com\nA.com\nb.com\na.com", []string{"a.com", "b.com", "c.com"}},
		{"Unicode to punycode", "bücher.de\nexample.com.\n", []string{"example.com", "xn--bcher-kva.de"}},
		{"unconvertible dropped", "exa\u2488mple.com\nok.com", []string{"ok.com"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newSet(tt.data, canonDomain).sorted
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("newSet(%q) = %q, want %q", tt.data, got, tt.want)
			}
		})
	}
}

// TestLicences checks that every embedded list ships with its licence.
func TestLicences(t *testing.T) {
	for _, f := range []string{
		"data/disposable_email_blocklist.LICENSE",
		"data/role_accounts.LICENSE",
		"data/free_email_providers.LICENSE",
		"data/README.md",
	} {
		t.Run(f, func(t *testing.T) {
			if st, err := os.Stat(f); err != nil || st.Size() == 0 {
				t.Errorf("%s missing or empty: %v", f, err)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	c := checker()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				if !c.IsDisposable("x.mailinator.com") || !c.IsFree("gmail.com") || !c.IsRoleAccount("admin") {
					t.Errorf("goroutine %d: wrong answer", i)
					return
				}
			}
		})
	}
	wg.Wait()
}
