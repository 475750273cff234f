package api

import (
	"strconv"
	"strings"
	"time"
)

// preferences are the RFC 7240 preferences this API honours on
// check_email: respond-async (§4.1) and wait (§4.3).
type preferences struct {
	async   bool          // respond-async: the client prefers 202 and a status URL
	wait    time.Duration // wait=N: how long the client accepts to wait for a result
	hasWait bool
}

// parsePrefer reads every Prefer header (RFC 7240 §2): a comma-separated
// list of preferences, each a token with an optional "=value" and
// ";"-separated parameters, names compared case-insensitively. Unknown or
// malformed preferences are ignored, as §2 asks; the first occurrence of a
// preference wins (§2: "the first instance ... [is] used").
func parsePrefer(values []string) preferences {
	var p preferences
	seenAsync := false
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			pref, _, _ := strings.Cut(item, ";") // parameters are not used
			name, val, _ := strings.Cut(pref, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch name {
			case "respond-async":
				if !seenAsync {
					p.async, seenAsync = true, true
				}
			case "wait":
				if p.hasWait {
					continue
				}
				// delta-seconds (RFC 9111 §1.2.2): digits only.
				n, err := strconv.ParseUint(val, 10, 31)
				if err != nil {
					continue
				}
				p.wait, p.hasWait = time.Duration(n)*time.Second, true
			}
		}
	}
	return p
}

// headerPreferenceApplied tells the client which preference shaped the
// answer (RFC 7240 §3).
const headerPreferenceApplied = "Preference-Applied"
