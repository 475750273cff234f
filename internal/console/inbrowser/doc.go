// Package inbrowser tests the web console (package console) in a real
// browser: headless Chromium, from Debian's chromium package, driven from
// Go through the DevTools protocol (github.com/chromedp/chromedp), against
// `mailprobe serve`'s server (app.Local) and the loopback DNS, SOCKS5 and
// SMTP test servers. It is a package of its own so that `go test ./...`
// runs it beside the rest.
//
// Screenshots of every state are written under the folder each test logs
// (MAILPROBE_SCREENSHOTS, or a folder in the system's temporary directory).
// `go test ./internal/console/inbrowser -run TestList -docs` also writes
// the README's screenshot, docs/console-list.png.
//
// Without Chromium the tests skip, loudly; under CI=true they fail.
package inbrowser
