package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/address"
)

// headerCache tells the caller whether the answer came from the cache:
// hit, miss, bypass or off.
const headerCache = "X-Mailprobe-Cache"

// checkCache is the cache decision for one request.
//
// Key: "v1:" + the normalized address + ":" + a hash of the request options
// that can change the answer (from_email, hello_name, smtp_port, proxy
// host/port/user, the provider methods, check_gravatar). smtp_timeout and
// retries are left out: they only decide whether a check concludes, and
// inconclusive results are never cached.
//
// What is cached: final verdicts only (safe, risky, invalid). Provisional
// results (Retry != nil, greylisting) and unknown ones (timeouts, blocked,
// DNS failures) describe a moment, not the mailbox, so they are not.
// Invalid-syntax addresses are not cached either: checking them costs no
// I/O.
//
// Bypass: "skip_cache": true in the body or Cache-Control: no-cache skip the
// lookup; the fresh final result still refreshes the cache unless the
// request says Cache-Control: no-store, which alone still lets a cached
// answer be served (RFC 9111 §5.2.1.5 forbids storing, not reading).
type checkCache struct {
	s     *server
	key   string // "" when the request cannot use the cache
	addr  address.Address
	input string
	read  bool
	write bool
	state string // for headerCache
}

// cacheFor decides how one check request uses the cache.
func (s *server) cacheFor(r *http.Request, body checkBody) checkCache {
	c := checkCache{s: s, input: body.ToEmail, state: "off"}
	if s.deps.Cache == nil || s.cfg.CacheTTL <= 0 {
		return c
	}
	addr, err := address.Parse(body.ToEmail)
	if err != nil {
		return c
	}
	noCache, noStore := cacheControl(r.Header.Values("Cache-Control"))
	c.key, c.addr = cacheKey(addr, body.Request), addr
	c.read = !body.SkipCache && !noCache
	c.write = !noStore
	c.state = "miss"
	if !c.read {
		c.state = "bypass"
	}
	return c
}

// cacheControl reads the request directives of RFC 9111 §5.2.1: no-cache
// (§5.2.1.4) asks for a fresh answer, so the lookup is skipped; no-store
// (§5.2.1.5) only forbids storing the response, so a cached answer may
// still be served.
func cacheControl(values []string) (noCache, noStore bool) {
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			switch {
			case strings.EqualFold(d, "no-cache"):
				noCache = true
			case strings.EqualFold(d, "no-store"):
				noStore = true
			}
		}
	}
	return noCache, noStore
}

// cacheKey builds the key described on checkCache.
func cacheKey(addr address.Address, req engine.Request) string {
	var b []byte
	field := func(s string) {
		b = append(b, s...)
		b = append(b, 0)
	}
	field(req.FromEmail)
	field(req.HelloName)
	field(strconv.Itoa(req.SMTPPort))
	if p := req.Proxy; p != nil {
		field(strings.ToLower(p.Host))
		field(strconv.Itoa(p.Port))
		field(p.Username)
	} else {
		field("-")
	}
	for _, m := range []engine.MethodName{req.GmailVerifMethod, req.HotmailB2BVerifMethod, req.HotmailB2CVerifMethod, req.YahooVerifMethod} {
		pm, _ := engine.ParseMethod(string(m)) // validated before
		field(strconv.Itoa(int(pm)))
	}
	field(strconv.FormatBool(req.CheckGravatar))
	sum := sha256.Sum256(b)
	return "v1:" + addr.Normalized + ":" + hex.EncodeToString(sum[:8])
}

// lookup returns the cached result for this request, rewritten for its
// input when the cached one was stored for another spelling of the same
// normalized address. Cache failures are logged and treated as misses: the
// cache is an optimisation, never a reason to fail a check.
func (c *checkCache) lookup(ctx context.Context) ([]byte, bool) {
	if c.key == "" || !c.read {
		return nil, false
	}
	raw, ok, err := c.s.deps.Cache.GetCache(ctx, c.key, c.s.deps.Now())
	if err != nil {
		c.s.log.LogAttrs(ctx, slog.LevelWarn, "cache read failed", slog.String("error", err.Error()))
		return nil, false
	}
	if !ok {
		return nil, false
	}
	if sameInput(raw, c.input) {
		return raw, true
	}
	var res engine.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		c.s.log.LogAttrs(ctx, slog.LevelWarn, "cached result unreadable", slog.String("error", err.Error()))
		return nil, false
	}
	res.Input = c.input
	res.Syntax = engine.SyntaxOf(c.addr, res.IsReachable)
	b, err := json.Marshal(res)
	if err != nil {
		return nil, false
	}
	return b, true
}

// sameInput reports whether a cached result (whose first key is "input",
// see engine.Result) was produced for exactly this input.
func sameInput(raw []byte, input string) bool {
	q, err := json.Marshal(input)
	if err != nil {
		return false
	}
	const prefix = `{"input":`
	return bytes.HasPrefix(raw, []byte(prefix)) && bytes.HasPrefix(raw[len(prefix):], q) &&
		len(raw) > len(prefix)+len(q) && raw[len(prefix)+len(q)] == ','
}

// store caches a final result when it is worth caching.
func (c *checkCache) store(ctx context.Context, res engine.Result, encoded []byte) {
	if c.key == "" || !c.write || res.Retry != nil {
		return
	}
	switch res.IsReachable {
	case engine.Safe, engine.Risky, engine.Invalid:
	default:
		return
	}
	expires := c.s.deps.Now().Add(c.s.cfg.CacheTTL)
	if err := c.s.deps.Cache.PutCache(ctx, c.key, encoded, expires); err != nil {
		c.s.log.LogAttrs(ctx, slog.LevelWarn, "cache write failed", slog.String("error", err.Error()))
	}
}
