package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/internal/throttle"
)

// server is the http.Handler returned by New.
type server struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	mux      *http.ServeMux
	limiter  *throttle.Limiter
	auth     authenticator
	authFail *authLimiter
	version  []byte // the /version body, computed once
}

// headerRequestID carries the request id in both directions.
const headerRequestID = "X-Request-Id"

// ServeHTTP assigns the request id, turns the mux's plain-text 404 and 405
// answers into JSON, recovers from panics and writes one log line per
// request.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.deps.Now()
	rw := &respWriter{ResponseWriter: w, id: requestID(r)}
	w.Header().Set(headerRequestID, rw.id)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			rw.err = fmt.Errorf("panic: %v", v)
			if !rw.wroteHeader {
				s.internalError(rw, rw.err)
			}
		}
		s.logRequest(r, rw, s.deps.Now().Sub(start))
	}()
	s.mux.ServeHTTP(rw, r)
}

// route wraps a handler with what every matched route needs: the pattern
// for the log, the Host check of a server without a secret, the secret,
// the throttle and, for routes that read a JSON body, its Content-Type.
func (s *server) route(pattern string, rt Route, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rw, ok := w.(*respWriter); ok {
			rw.route = pattern
		}
		if !s.hostAllowed(w, r) {
			return
		}
		if rt.Auth && !s.authorized(w, r, rt.Bearer) {
			return
		}
		if rt.Throttled && !s.allowed(w, r) {
			return
		}
		if rt.JSONBody && !s.requireJSON(w, r) {
			return
		}
		h(w, r)
	})
}

// authenticator compares secrets in constant time. Both sides are hashed
// first so that the comparison takes the same time whatever the length of
// the presented value (subtle.ConstantTimeCompare returns early on a length
// mismatch).
type authenticator struct {
	open bool
	want [sha256.Size]byte
	set  bool
}

func newAuthenticator(secret string, open bool) authenticator {
	a := authenticator{open: open && secret == ""}
	if secret != "" {
		a.want, a.set = sha256.Sum256([]byte(secret)), true
	}
	return a
}

// headerSecret is Reacher's authentication header.
const headerSecret = "X-Reacher-Secret"

// authorized checks x-reacher-secret or, where bearer allows it, the
// secret as an RFC 6750 bearer token (Authorization: Bearer <secret>),
// which Prometheus's scrape configuration can send and a custom header it
// cannot. Wrong secrets are counted per client address; an address over the
// limit gets 429 until its window ends (see authLimiter).
func (s *server) authorized(w http.ResponseWriter, r *http.Request, bearer bool) bool {
	if s.auth.open {
		return true
	}
	key := clientKey(r)
	if wait, locked := s.authFail.blocked(key); locked {
		s.writeAuthLocked(w, wait)
		return false
	}
	got := r.Header.Get(headerSecret)
	if got == "" && bearer {
		got = bearerToken(r)
	}
	if got == "" {
		w.Header().Set("WWW-Authenticate", `x-reacher-secret realm="mailprobe"`)
		s.writeError(w, http.StatusUnauthorized, "Missing x-reacher-secret header.")
		return false
	}
	sum := sha256.Sum256([]byte(got))
	if !s.auth.set || subtle.ConstantTimeCompare(sum[:], s.auth.want[:]) != 1 {
		s.authFail.fail(key)
		w.Header().Set("WWW-Authenticate", `x-reacher-secret realm="mailprobe"`)
		s.writeError(w, http.StatusUnauthorized, "Invalid x-reacher-secret header.")
		return false
	}
	return true
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 7235 §2.1).
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// allowed applies the rate limits. A failing counter (DynamoDB down) lets
// the request through and logs the failure: the throttle protects
// reputation and cost, and an outage of the counter table should not take
// the whole API down with it.
func (s *server) allowed(w http.ResponseWriter, r *http.Request) bool {
	err := s.limiter.Allow(r.Context())
	if err == nil {
		return true
	}
	if le, ok := throttle.IsLimit(err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(le.RetryAfterSeconds()))
		s.writeError(w, http.StatusTooManyRequests, le.Error())
		return false
	}
	s.log.LogAttrs(r.Context(), slog.LevelError, "throttle counter failed; request allowed",
		slog.String("request_id", idOf(w)), slog.String("error", err.Error()))
	return true
}

// requestID reuses a well-formed incoming id (API Gateway's, or a caller's
// for end-to-end tracing) and otherwise makes a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(headerRequestID); validRequestID(id) {
		return id
	}
	return rand.Text()
}

// validRequestID accepts up to 128 characters of a conservative alphabet,
// so that an id echoed into headers and logs cannot carry anything else.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == '=', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// logRequest writes the access log line.
func (s *server) logRequest(r *http.Request, rw *respWriter, d time.Duration) {
	level := slog.LevelInfo
	if rw.status >= 500 {
		level = slog.LevelError
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("method", r.Method),
		slog.String("route", rw.route),
		slog.Int("status", rw.statusCode()),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("request_id", rw.id),
	)
	if s.cfg.LogEmails && rw.email != "" {
		attrs = append(attrs, slog.String("email", rw.email))
	}
	if rw.err != nil {
		attrs = append(attrs, slog.String("error", rw.err.Error()))
	}
	s.log.LogAttrs(context.WithoutCancel(r.Context()), level, "request", attrs...)
}

// respWriter records what the log needs and rewrites the mux's own 404 and
// 405 answers (plain text) as JSON errors.
type respWriter struct {
	http.ResponseWriter
	id          string
	route       string // the matched pattern; "" when the mux found none
	email       string // logged only with Config.LogEmails
	err         error  // internal error, logged, never sent
	status      int
	wroteHeader bool
	swallow     bool // discard the body the mux writes after a rewritten 404/405
}

func (w *respWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader, w.status = true, code
	if w.route == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.swallow = true
		h := w.ResponseWriter.Header()
		h.Set("Content-Type", "application/json")
		w.ResponseWriter.WriteHeader(code)
		msg := "Not found."
		if code == http.StatusMethodNotAllowed {
			msg = "Method not allowed."
		}
		_, _ = w.ResponseWriter.Write(errorBody(msg))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *respWriter) statusCode() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.status
}

// idOf returns the request id of a response being written by this package.
func idOf(w http.ResponseWriter) string {
	if rw, ok := w.(*respWriter); ok {
		return rw.id
	}
	return w.Header().Get(headerRequestID)
}

// noteEmail records the checked address for the log line.
func noteEmail(w http.ResponseWriter, email string) {
	if rw, ok := w.(*respWriter); ok {
		rw.email = email
	}
}
