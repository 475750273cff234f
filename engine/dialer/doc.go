// Package dialer opens the TCP connections mailprobe's SMTP probes run
// over: through SOCKS5 proxies (RFC 1928, with RFC 1929 username/password
// authentication) by default, since AWS Lambda blocks outbound port 25,
// or directly when a deployment explicitly allows it.
//
// The engine resolves MX hosts with its own resolver, checks every
// address with CheckAddr (the SSRF guard), and only then asks a Dialer
// for ip:port. Dialers refuse host names (ErrTargetNotIP), so a proxy
// never resolves a name and no DNS rebinding can slip in between check
// and connect.
//
// SOCKS5 failures are *ProxyError values whose Kind the engine maps to
// Reacher's error objects; callers branch with errors.As or IsAuth, never
// on error text. Errors name the proxy by its id and redacted URL; no
// error, String, GoString or LogValue output contains a proxy password.
package dialer
