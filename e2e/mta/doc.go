// Package mta runs the engine (Verify and VerifyBatch) and `mailprobe
// check` against real mail servers installed from Debian's apt: Postfix
// with virtual mailbox maps, access maps, sender and HELO restrictions
// and anvil rate limits, postgrey greylisting, Exim with verify =
// recipient, and OpenSMTPD. Every connection goes through the SOCKS5 test
// proxy, which dials from an address of its own, and every test checks in
// the server's log that nothing reached it another way. The servers are
// started by internal/testenv/mta; the tests skip loudly where they are
// not installed, except in CI.
//
// The package holds only tests; it is its own package so that `go test
// ./...` runs it in parallel with the rest.
package mta
