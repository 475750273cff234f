package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// openHarness is a server without a secret, as `make run` starts it.
func openHarness(t *testing.T, mutate func(*Config, *Deps)) *harness {
	t.Helper()
	return newHarness(t, func(c *Config, d *Deps) {
		c.Secret, c.Open = "", true
		if mutate != nil {
			mutate(c, d)
		}
	})
}

// TestRequestProxy: a request's proxy is honoured with the secret (as
// Reacher honours it) and refused on a server without one, where anyone
// could make it connect anywhere.
func TestRequestProxy(t *testing.T) {
	body := `{"to_email":"a@b.com","proxy":{"host":"proxy.example.net","port":1080,"username":"u","password":"p"}}`
	var got *engine.RequestProxy
	hs := newHarness(t, func(_ *Config, d *Deps) {
		d.Checker = &fakeChecker{fn: func(_ context.Context, req engine.Request) (engine.Result, error) {
			got = req.Proxy
			return testResult(req.ToEmail, engine.Safe), nil
		}}
	})
	if r := hs.do(t, "POST", "/v1/check_email", body, nil); r.status != 200 || got == nil || got.Host != "proxy.example.net" {
		t.Fatalf("with the secret: %d %s, engine got proxy %+v", r.status, r.body, got)
	}
	if r := hs.do(t, "POST", "/v0/bulk", `{"input_type":"array","input":["a@b.com"],"proxy":{"host":"p.example.net","port":1080}}`, nil); r.status != 200 {
		t.Fatalf("v0 bulk with a proxy and the secret: %d %s", r.status, r.body)
	}

	open := openHarness(t, nil)
	for _, tt := range []struct{ target, body string }{
		{"/v1/check_email", body},
		{"/v0/check_email", body},
		{"/v0/bulk", `{"input_type":"array","input":["a@b.com"],"proxy":{"host":"p.example.net","port":1080}}`},
	} {
		r := open.do(t, "POST", tt.target, tt.body, map[string]string{"Host": "127.0.0.1:8080"})
		if r.status != 400 || !strings.Contains(r.errorText(t), "proxy field is accepted only with an x-reacher-secret") {
			t.Errorf("open server, %s: %d %s", tt.target, r.status, r.body)
		}
	}
	if n := open.checker.calls.Load(); n != 0 {
		t.Errorf("the engine ran %d times with a refused proxy", n)
	}
}

// TestPostsRequireJSON: a body not declared application/json is refused,
// so that a web page cannot post to the API from a visitor's browser
// without a CORS preflight (text/plain, forms, or a Blob without a type).
func TestPostsRequireJSON(t *testing.T) {
	hs := openHarness(t, nil)
	tests := []struct {
		contentType string
		want        int
	}{
		{"text/plain", 415},
		{"text/plain;charset=UTF-8", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"", 415}, // fetch() with a Blob body of no type sends none
		{"application/jsonx", 415},
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"Application/JSON", 200},
	}
	for _, tt := range tests {
		for _, target := range []string{"/v0/check_email", "/v1/check_email", "/v0/bulk", "/v1/bulk"} {
			r := hs.do(t, "POST", target, `{"to_email":"a@b.com","input":["a@b.com"]}`,
				map[string]string{"Content-Type": tt.contentType, "Host": "localhost:8080"})
			if r.status != tt.want {
				t.Errorf("%s with Content-Type %q: %d, want %d: %s", target, tt.contentType, r.status, tt.want, r.body)
			}
			if tt.want == 415 && (r.errorText(t) != "Content-Type must be application/json." || r.header.Get("Accept-Post") != "application/json") {
				t.Errorf("%s 415: %s, Accept-Post %q", target, r.body, r.header.Get("Accept-Post"))
			}
		}
	}
}

// TestOpenServerChecksHost: without a secret, a request is answered only
// when its Host is an IP literal, localhost or a listed name, so a DNS
// rebinding page (its own name re-pointed at 127.0.0.1) gets nothing.
func TestOpenServerChecksHost(t *testing.T) {
	hs := openHarness(t, func(c *Config, _ *Deps) { c.AllowedHosts = []string{"mailprobe.internal"} })
	check := `{"to_email":"a@b.com"}`
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:8080", 200},
		{"127.0.0.1", 200},
		{"[::1]:8080", 200},
		{"192.168.1.20:8080", 200},
		{"localhost:8080", 200},
		{"LOCALHOST.", 200},
		{"app.localhost:8080", 200},
		{"mailprobe.internal:8080", 200},
		{"MAILPROBE.internal", 200},
		{"rebind.attacker.example:8080", 403},
		{"localhost.attacker.example", 403},
		{"127.0.0.1.nip.io:8080", 403},
	}
	for _, tt := range tests {
		for _, rt := range []struct{ method, target, body string }{
			{"POST", "/v1/check_email", check}, {"POST", "/v1/bulk", `{"input":["a@b.com"]}`}, {"GET", "/v1/bulk/1001", ""},
		} {
			r := hs.do(t, rt.method, rt.target, rt.body, map[string]string{"Host": tt.host})
			if (r.status == 403) != (tt.want == 403) {
				t.Errorf("Host %q, %s %s: %d, want %d: %s", tt.host, rt.method, rt.target, r.status, tt.want, r.body)
			}
		}
	}
	// With a secret, or with the check turned off, the Host is not read.
	for name, h := range map[string]*harness{
		"secret":   newHarness(t, nil),
		"any host": openHarness(t, func(c *Config, _ *Deps) { c.AnyHost = true }),
	} {
		if r := h.do(t, "POST", "/v1/check_email", check, map[string]string{"Host": "rebind.attacker.example"}); r.status != 200 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
}

// TestFailedAuthIsLimited: after 10 wrong secrets in a minute, every
// authenticated request from that address gets 429, the right secret
// included, until the minute ends; other addresses are not affected; a
// missing header is not a guess.
func TestFailedAuthIsLimited(t *testing.T) {
	hs := newHarness(t, nil)
	attacker := map[string]string{"RemoteAddr": "203.0.113.7:50000", "x-reacher-secret": "guess"}
	hs.clock.Set(testEpoch.Add(20 * time.Second))
	for i := range 10 {
		if r := hs.do(t, "GET", "/v1/bulk/1", "", attacker); r.status != 401 {
			t.Fatalf("guess %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := hs.do(t, "GET", "/v1/bulk/1", "", attacker)
	if r.status != 429 || r.header.Get("Retry-After") != "40" ||
		r.errorText(t) != "Too many failed x-reacher-secret attempts from your address, please wait 40s." {
		t.Fatalf("11th guess: %d %s Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	right := map[string]string{"RemoteAddr": "203.0.113.7:50001"}
	if r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@b.com"}`, right); r.status != 429 {
		t.Errorf("the right secret from a locked-out address: %d, want 429 (else the lock is an oracle)", r.status)
	}
	if r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@b.com"}`, map[string]string{"RemoteAddr": "198.51.100.1:1"}); r.status != 200 {
		t.Errorf("another address: %d %s", r.status, r.body)
	}
	if r := hs.do(t, "GET", "/healthz", "", attacker); r.status != 200 {
		t.Errorf("healthz needs no secret and is not locked: %d", r.status)
	}
	hs.clock.Set(testEpoch.Add(time.Minute))
	if r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@b.com"}`, right); r.status != 200 {
		t.Errorf("next minute, right secret: %d %s", r.status, r.body)
	}

	// Missing headers are mistakes, not guesses.
	forgetful := map[string]string{"RemoteAddr": "198.51.100.9:1", "x-reacher-secret": ""}
	for range 20 {
		if r := hs.do(t, "GET", "/v1/bulk/1", "", forgetful); r.status != 401 {
			t.Fatalf("missing header: %d", r.status)
		}
	}
	// An IPv6 client is one /64: rotating the interface id buys no guesses.
	for i := range 10 {
		addr := fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)
		hs.do(t, "GET", "/v1/bulk/1", "", map[string]string{"RemoteAddr": addr, "x-reacher-secret": "guess"})
	}
	if r := hs.do(t, "GET", "/v1/bulk/1", "", map[string]string{"RemoteAddr": "[2001:db8:1:2::ffff]:443"}); r.status != 429 {
		t.Errorf("same /64, new interface id: %d, want 429", r.status)
	}
}

// TestCSVNeutralisesFormulas: cells a spreadsheet would run as a formula
// (=, +, -, @, tab, CR first) get a leading quote, in every CSV the API
// writes (a page, a stream, an export). All of these start valid local
// parts.
func TestCSVNeutralisesFormulas(t *testing.T) {
	hs := newHarness(t, nil)
	if err := hs.store.CreateJob(context.Background(), storeJob("9", 6)); err != nil {
		t.Fatal(err)
	}
	inputs := []string{`=HYPERLINK("http://x.example")@evil.test`, "+1-555@evil.test", "-2+3@evil.test",
		"@SUM(A1)@evil.test", "\tcmd@evil.test", "\r=1@evil.test"}
	for i, in := range inputs {
		res := testResult(in, engine.Invalid)
		res.Syntax.Username = in[:strings.LastIndexByte(in, '@')]
		hs.storeResult(t, "9", i, res)
	}
	for _, target := range []string{"/v1/bulk/9/results?format=csv&limit=10", "/v1/bulk/9/results?format=csv", "/v0/bulk/9/results?format=csv"} {
		r := hs.do(t, "GET", target, "", nil)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if r.status != 200 || err != nil || len(rows) != 7 {
			t.Fatalf("%s: %d %v %q", target, r.status, err, r.body)
		}
		for i, row := range rows[1:] {
			if row[0] != "'"+inputs[i] {
				t.Errorf("%s: input cell %q, want %q", target, row[0], "'"+inputs[i])
			}
			if row[13] != "'"+inputs[i][:strings.LastIndexByte(inputs[i], '@')] {
				t.Errorf("%s: syntax.username cell %q not neutralised", target, row[13])
			}
		}
	}
	if safeCell("alice@example.com") != "alice@example.com" || safeCell("") != "" {
		t.Error("ordinary cells changed")
	}
}

// TestCSVRowNeutralisesFormulas: CSVRow, which `mailprobe check --format
// csv` writes with too, neutralises formula cells.
func TestCSVRowNeutralisesFormulas(t *testing.T) {
	res := testResult(`=HYPERLINK("http://x.example")@evil.test`, engine.Invalid)
	row := CSVRow(&res)
	if row[0] != `'=HYPERLINK("http://x.example")@evil.test` {
		t.Errorf("input cell %q", row[0])
	}
}
