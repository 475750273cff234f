package address

import "strings"

// Normalize returns the provider-normalized form of an address, Reacher's
// syntax.normalized_email.
//
// For gmail.com and googlemail.com, Gmail ignores dots in the local part
// and everything from the first "+" (sub-addressing), and local parts are
// case-insensitive, so it drops those, lower-cases the ASCII letters and
// uses gmail.com. Every other address is returned as username + "@" +
// domain, unchanged: RFC 5321 §2.4 lets a local part be case-sensitive, and
// Reacher leaves those alone too.
func Normalize(username, domain string) string {
	if !isGmail(domain) {
		return username + "@" + domain
	}
	local, _, _ := strings.Cut(username, "+")
	const suffix = "@gmail.com"
	var b strings.Builder
	b.Grow(len(local) + len(suffix))
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c == '.':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	b.WriteString(suffix)
	return b.String()
}

// isGmail reports whether domain is one of Gmail's consumer domains, in any
// case.
func isGmail(domain string) bool {
	return strings.EqualFold(domain, "gmail.com") || strings.EqualFold(domain, "googlemail.com")
}
