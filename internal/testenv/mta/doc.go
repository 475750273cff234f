// Package mta runs real mail servers from Debian's packages (Postfix,
// postgrey, Exim, OpenSMTPD) for tests, on loopback addresses of their
// own, with throw-away configurations written under t.TempDir().
//
// scripts/apt-deps.sh installs Postfix and postgrey and unpacks Exim and
// OpenSMTPD under .tools/pkgs/root (Debian's MTA packages conflict with
// each other). A test asks for what it needs with Need; a missing binary
// skips the test with a loud message, except in CI (CI=true), where it
// fails it.
//
// Every server runs inside a PID namespace of its own (unshare --pid),
// whose first process dies with the test binary: stopping a server, or
// the test binary crashing, kills every process the server started, and
// Cleanup checks that none is left. The servers of one test share a port
// on distinct addresses of a random 127.a.b.0/24 block (see Loopback), so
// tests that run at the same time, in this process or another, do not
// collide, and nothing listens on port 25.
//
// Servers are configured the way common installations are (Postfix
// virtual mailbox maps and access maps, postgrey as a policy service,
// Exim's verify = recipient ACL), so their replies carry the real wording.
package mta
