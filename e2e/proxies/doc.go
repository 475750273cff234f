// Package proxies proves the engine and `mailprobe doctor` against real
// SOCKS5 servers installed from Debian's apt, dante (danted, with
// username/password auth through a system user) and microsocks, on
// loopback ports and in network namespaces the tests create: full probes
// through each, and every failure a real proxy reports (wrong password,
// proxy down, destination refused by its rules, host and network
// unreachable, connection refused, TTL expired, general failure) mapped to
// the engine's typed errors with the proxy's id and never its password.
//
// Its own package so that `go test ./...` runs it beside the others.
package proxies
