package api

import (
	"fmt"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// requireJSON refuses a request body that is not declared JSON with 415.
// Browsers send text/plain, application/x-www-form-urlencoded and
// multipart/form-data, or no Content-Type at all, cross-site without a
// CORS preflight (the Fetch standard's "simple requests"); requiring
// application/json makes every cross-site POST preflighted, and this API
// answers no preflight, so a web page cannot make a visitor's browser
// create jobs on a server without a secret. Reacher (warp's body::json)
// also refuses other media types, but lets a missing Content-Type through.
func (s *server) requireJSON(w http.ResponseWriter, r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == "application/json" {
		return true
	}
	w.Header().Set("Accept-Post", "application/json")
	s.writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json.")
	return false
}

// hostAllowed guards a server without a secret against DNS rebinding: a
// web page whose own name the attacker re-points at 127.0.0.1 reaches this
// server from the visitor's browser, with the page's name in Host. Such
// requests are refused with 403 unless Host is an IP literal, localhost
// (or a name under .localhost, RFC 6761 §6.3), or one of
// Config.AllowedHosts. With a secret, a rebound page has nothing to send.
func (s *server) hostAllowed(w http.ResponseWriter, r *http.Request) bool {
	if !s.auth.open || s.cfg.AnyHost || r.Host == "" {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if _, err := netip.ParseAddr(host); err == nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, h := range s.cfg.AllowedHosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	s.writeError(w, http.StatusForbidden, fmt.Sprintf(
		"Host %q is not allowed on a server without x-reacher-secret (DNS rebinding protection); use an IP address, or list the name in allowed_hosts.", host))
	return false
}

// authLimiter counts failed authentication attempts (a wrong secret) per
// client address in fixed windows. Once an address reaches the limit, all
// of its authenticated requests get 429 until the window ends, right
// secret or not: otherwise a guesser would still learn which guess was
// right. Counts are per process: on Lambda every instance counts apart
// (API Gateway's own throttling bounds the rest).
type authLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	start  time.Time      // of the current window
	counts map[string]int // failures per client key in the window
}

// maxAuthKeys bounds the limiter's memory; past it, new addresses share
// one count (so a flood of addresses locks itself out, not the others).
const maxAuthKeys = 100_000

func newAuthLimiter(limit int, window time.Duration, now func() time.Time) *authLimiter {
	return &authLimiter{limit: limit, window: window, now: now, counts: map[string]int{}}
}

// roll starts a new window when the current one is over. l.mu is held.
func (l *authLimiter) roll() time.Time {
	now := l.now()
	if now.Sub(l.start) >= l.window || now.Before(l.start) {
		l.start = now.Truncate(l.window)
		clear(l.counts)
	}
	return now
}

// blocked reports whether key is locked out, and for how long still.
func (l *authLimiter) blocked(key string) (time.Duration, bool) {
	if l.limit <= 0 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.roll()
	if l.counts[l.bucket(key)] < l.limit {
		return 0, false
	}
	return l.start.Add(l.window).Sub(now), true
}

// fail counts one failed attempt of key.
func (l *authLimiter) fail(key string) {
	if l.limit <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll()
	l.counts[l.bucket(key)]++
}

// bucket is key, or the shared overflow key when the map is full. l.mu
// is held.
func (l *authLimiter) bucket(key string) string {
	if _, ok := l.counts[key]; ok || len(l.counts) < maxAuthKeys {
		return key
	}
	return "overflow"
}

// clientKey identifies the client of r for the auth limiter: its IPv4
// address, or its IPv6 /64 (one end site usually holds a whole /64, so a
// single address per guess would be free). X-Forwarded-For is not read:
// any client can write it.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "unknown"
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// writeAuthLocked answers a locked-out client: 429 with Retry-After.
func (s *server) writeAuthLocked(w http.ResponseWriter, wait time.Duration) {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.writeError(w, http.StatusTooManyRequests,
		fmt.Sprintf("Too many failed x-reacher-secret attempts from your address, please wait %ds.", secs))
}
