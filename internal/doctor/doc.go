// Package doctor checks a mailprobe setup the way an operator would by
// hand on the first day: the configuration loads, the DNS resolver
// answers, hello_name is a fully-qualified name and from_email's domain
// resolves, and for each SOCKS5 proxy: TCP reach, method negotiation and
// authentication (RFC 1928, RFC 1929), a CONNECT to port 25 of a real MX,
// its banner, EHLO and extensions, then QUIT without MAIL or RCPT. Where
// the server shows the client's address, the report gives the proxy's exit
// IP and checks its reverse DNS against hello_name.
//
// Every finding is a Check with a status (pass, warn, fail), a reason and
// a fix. The same Report is printed by `mailprobe doctor` and served by
// GET /v1/doctor. Proxies are named by their id; no report contains a
// proxy password.
package doctor
