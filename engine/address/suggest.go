package address

import "strings"

// providers are the popular domains that Suggest proposes, Reacher's
// MAIL_PROVIDERS list in its order (core/src/syntax/mod.rs); on a tie the
// earlier one wins. Short domains such as aol.com, gmx.com or live.com are
// deliberately absent: within edit distance 2 of a seven-letter domain lie
// many real ones (aws.com is two edits from aol.com).
const providers = "gmail.com yahoo.com outlook.com hotmail.com protonmail.com icloud.com yandex.com"

// realLookalikes are real mail domains within Reacher's distance of a
// provider, for which a suggestion would be wrong.
const realLookalikes = "mail.com email.com ymail.com foxmail.com yopmail.com"

// maxProviderLen bounds the providers' lengths so distance can keep its row
// on the stack; a test checks it.
const maxProviderLen = 16

// maxDistance is Reacher's threshold: a suggestion needs distance < 3.
const maxDistance = 2

// Suggest returns the popular provider domain that domain is probably a
// typo of, as Reacher's syntax.suggestion does: Levenshtein distance below 3
// (Reacher uses the levenshtein crate, not Damerau's variant, so "gmial"
// costs two edits). Unlike Reacher, it never suggests a domain for itself,
// it picks the closest provider rather than the first within range, and it
// leaves real look-alike domains alone: the few in realLookalikes, and the
// provider's own name under another country's top-level domain, such as
// hotmail.ca or yahoo.cn (a TLD at least two edits from the provider's; a
// one-edit TLD such as gmail.co or gmail.cm is still taken for a typo).
//
// domain is compared ASCII case-insensitively; Suggest does not allocate.
func Suggest(domain string) (string, bool) {
	if inList(realLookalikes, domain) || inList(providers, domain) {
		return "", false
	}
	best, bestDist := "", maxDistance+1
	for rest := providers; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, " ")
		if diff := len(domain) - len(p); diff > maxDistance || -diff > maxDistance {
			continue // the distance is at least the difference in length
		}
		if d := distance(domain, p, maxDistance); d < bestDist && !otherCountry(domain, p) {
			best, bestDist = p, d
		}
	}
	return best, best != ""
}

// inList reports whether s is one of the space-separated words of list,
// ASCII case-insensitively.
func inList(list, s string) bool {
	for list != "" {
		var w string
		w, list, _ = strings.Cut(list, " ")
		if strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}

// otherCountry reports whether domain is provider's name under a top-level
// domain that is not a one-edit typo of provider's, e.g. hotmail.ca for
// hotmail.com.
func otherCountry(domain, provider string) bool {
	pi := strings.LastIndexByte(provider, '.')
	di := strings.LastIndexByte(domain, '.')
	if di < 0 || !strings.EqualFold(domain[:di], provider[:pi]) {
		return false
	}
	return distance(domain[di+1:], provider[pi+1:], 1) > 1
}

// distance returns the Levenshtein distance between a and b, folding ASCII
// upper case in a, or any value above limit once the distance must exceed
// it. b must be lower case and at most maxProviderLen bytes; the single row
// of the classic dynamic programme then lives on the stack. Bytes, not
// runes: a domain that reaches here is ASCII after IDNA.
func distance(a, b string, limit int) int {
	var row [maxProviderLen + 1]int
	for j := range len(b) + 1 {
		row[j] = j
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		diag := row[0] // row[i-1][j-1]
		row[0] = i + 1
		best := row[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if c == b[j-1] {
				cost = 0
			}
			up := row[j]
			row[j] = min(up+1, row[j-1]+1, diag+cost)
			diag = up
			best = min(best, row[j])
		}
		if best > limit {
			return best // no later row can go below this one's minimum
		}
	}
	return row[len(b)]
}
