// Package misc answers the data-driven questions of Reacher's misc object:
// is a domain disposable, is a local part a role account, is a domain a free
// (B2C) mail provider. The lists are embedded in the binary; see
// data/README.md for where each comes from and how to refresh it.
package misc

import (
	_ "embed" // for the go:embed lists below
	"strings"

	"golang.org/x/net/idna"
)

// The embedded lists. go:embed needs package-level variables; they are
// strings, so nothing can change their contents.
var (
	//go:embed data/disposable_email_blocklist.conf
	disposableList string
	//go:embed data/role_accounts.txt
	roleList string
	//go:embed data/free_email_providers.txt
	freeList string
)

// Checker answers questions about domains and local parts from the embedded
// lists. It is immutable after New and safe for concurrent use; build one
// per process and share it, since New parses about 100 000 entries.
type Checker struct {
	disposable set
	roles      set
	free       set
}

// New parses the embedded lists.
func New() *Checker {
	return &Checker{
		disposable: newSet(disposableList, canonDomain),
		roles:      newSet(roleList, strings.ToLower),
		free:       newSet(freeList, canonDomain),
	}
}

// IsDisposable reports whether domain, or any parent domain of it, is on
// the disposable-email-domains blocklist: that list names registrable
// domains only, and disposable services hand out addresses at any
// sub-domain of them (x.mailinator.com). domain is matched case-insensitively;
// a Unicode domain is converted to punycode first.
func (c *Checker) IsDisposable(domain string) bool {
	d := canonDomain(domain)
	for d != "" {
		if c.disposable.has(d) {
			return true
		}
		_, parent, ok := strings.Cut(d, ".")
		if !ok || !strings.Contains(parent, ".") {
			return false // a bare top-level domain is never listed
		}
		d = parent
	}
	return false
}

// IsRoleAccount reports whether username, compared case-insensitively, is
// a role account name such as "admin" or "support" (Reacher's
// misc.is_role_account). Like Reacher it matches the whole local part, so
// "support+eu" is not a role account.
func (c *Checker) IsRoleAccount(username string) bool {
	return c.roles.has(strings.ToLower(username))
}

// IsFree reports whether domain is a free or consumer mail provider such as
// gmail.com (Reacher's misc.is_b2c). Only the exact domain matches: a
// company's sub-domain of a provider is no consumer mailbox.
func (c *Checker) IsFree(domain string) bool {
	d := canonDomain(domain)
	return d != "" && c.free.has(d)
}

// canonDomain returns the form of a domain the sets hold: ASCII
// (punycode), lower case, without a root dot. It returns "" for what IDNA
// cannot convert, which matches nothing.
func canonDomain(d string) string {
	d = strings.TrimSuffix(d, ".")
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(d)
			if err != nil {
				return ""
			}
			return a
		}
	}
	return strings.ToLower(d)
}
