package smtpprobe

import "time"

// Waits RetryAfter falls back on when a transient reply names none.
// Greylisting servers hold a new sender for one to a few minutes
// (postgrey's default is 300 s), and rate limits count over minutes, so
// waiting the upper end makes one retry usually enough; other transient
// failures get a shorter first wait.
const (
	DefaultGreylistWait  = 5 * time.Minute
	DefaultTemporaryWait = time.Minute
	maxRetryAfter        = time.Hour
)

// RetryAfter says how long to wait before asking again about a recipient
// that got r, whose class c the caller has from Classify (or from
// RecipientResult.Class): the reply is read once, not once per question
// asked about it. Every transient reply (4xx, RFC 5321 §4.2.1) is worth
// asking again, whatever it is about, and so is a transaction that held
// no more recipients (X.5.3); anything else gets zero. A wait in the text
// ("try again in 60 seconds", "greylisted for 20 minutes") wins over the
// default; it is kept between 1 s and 1 h.
func RetryAfter(r *Reply, c Class) time.Duration {
	var def time.Duration
	switch {
	case r == nil || c == Deliverable:
		return 0
	case c == Greylisted || (c == RateLimited && r.Temporary()):
		def = DefaultGreylistWait
	case r.Temporary() || c == TooManyRecipients:
		def = DefaultTemporaryWait
	default:
		return 0
	}
	var buf [512]byte
	if d, ok := parseWait(lowerText(buf[:0], r)); ok {
		return d
	}
	return def
}

// parseWait finds the first "<number> <unit>" in lower-case text. The
// number must start a word, so IP addresses, enhanced codes and host
// names like "mta1017" are not mistaken for one.
func parseWait(t []byte) (time.Duration, bool) {
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) || (i > 0 && (isDigit(t[i-1]) || isLetter(t[i-1]) || t[i-1] == '.')) {
			continue
		}
		n, j := 0, i
		for j < len(t) && isDigit(t[j]) {
			if n < 1e6 {
				n = n*10 + int(t[j]-'0')
			}
			j++
		}
		k := j
		if k < len(t) && t[k] == ' ' {
			k++
		}
		e := k
		for e < len(t) && isLetter(t[e]) {
			e++
		}
		if u := unit(t[k:e]); u > 0 && (j == len(t) || t[j] != '.') {
			return min(max(time.Duration(n)*u, time.Second), maxRetryAfter), true
		}
		i = j
	}
	return 0, false
}

func unit(w []byte) time.Duration {
	switch string(w) {
	case "s", "sec", "secs", "second", "seconds":
		return time.Second
	case "min", "mins", "minute", "minutes":
		return time.Minute
	case "h", "hr", "hrs", "hour", "hours":
		return time.Hour
	}
	return 0
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' }

// StatedWait returns the wait r's text names ("try again in 60 seconds",
// "greylisted for 5 minutes"), kept between 1 s and 1 h, if it names one.
func StatedWait(r *Reply) (time.Duration, bool) {
	if r == nil {
		return 0, false
	}
	var buf [512]byte
	return parseWait(lowerText(buf[:0], r))
}
