package misc

import (
	"slices"
	"strings"
)

// set is an immutable set of strings kept as a sorted slice. Entries are
// substrings of the embedded data, so a set costs one slice header per
// entry (about 1.6 MB for the 97 000 free-provider domains) and building
// it hashes nothing: a map would cost twice the memory and more start-up
// time, which Lambda cold starts pay for, while a binary search of 17 steps
// is fast enough.
type set struct {
	sorted []string
}

// newSet builds a set from one entry per line; blank lines and lines
// starting with "#" are skipped. canon maps an entry to the form lookups
// use, or returns "" to drop it.
func newSet(data string, canon func(string) string) set {
	keys := make([]string, 0, strings.Count(data, "\n")+1)
	var moved []string // entries canon rewrote, out of the file's order
	for line := range strings.Lines(data) {
		k := strings.TrimSpace(line)
		if k == "" || k[0] == '#' {
			continue
		}
		switch c := canon(k); c {
		case k:
			keys = append(keys, k)
		case "":
		default:
			moved = append(moved, c)
		}
	}
	// The lists are published sorted, so this usually costs one pass and a
	// merge of the few rewritten entries (Unicode domains turned into
	// punycode): sorting 97 000 strings would add 25 ms to a cold start.
	if !slices.IsSorted(keys) {
		slices.Sort(keys)
	}
	slices.Sort(moved)
	return set{sorted: slices.Clip(slices.Compact(merge(keys, moved)))}
}

// merge merges two sorted slices into a new sorted slice.
func merge(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] <= b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// has reports whether k is in the set.
func (s set) has(k string) bool {
	_, ok := slices.BinarySearch(s.sorted, k)
	return ok
}

// len returns the number of entries.
func (s set) len() int { return len(s.sorted) }
