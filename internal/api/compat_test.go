package api

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/mailprobe/mailprobe/engine"
)

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestReacherResultRoundTrip: the result example of reacher-compat.md §1
// (testdata/reacher-result.json) decodes into engine.Result and encodes
// back byte for byte, key order included; served from the cache, it reaches
// the client unchanged and matches the OpenAPI schema.
func TestReacherResultRoundTrip(t *testing.T) {
	raw, err := os.ReadFile("testdata/reacher-result.json")
	if err != nil {
		t.Fatal(err)
	}
	want := compact(t, raw)
	var res engine.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("round trip changed the result:\n got %s\nwant %s", got, want)
	}

	hs := newHarness(t, nil)
	hs.checker.fn = func(context.Context, engine.Request) (engine.Result, error) { return res, nil }
	for _, wantCache := range []string{"miss", "hit"} { // the second answer comes from the cache
		r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"someone@gmail.com"}`, nil)
		if string(r.body) != want {
			t.Fatalf("served %s (%s)\nwant %s", r.body, r.header.Get(headerCache), want)
		}
		if got := r.header.Get(headerCache); got != wantCache {
			t.Errorf("X-Mailprobe-Cache %q, want %q", got, wantCache)
		}
	}
	if n := hs.checker.calls.Load(); n != 1 {
		t.Errorf("engine called %d times, want 1", n)
	}
}

// TestReacherRequestRoundTrip: Reacher's request bodies (reacher-compat.md
// §4) reach the engine with every field, and re-encode unchanged.
func TestReacherRequestRoundTrip(t *testing.T) {
	tests := []struct{ name, body string }{
		{"minimal", `{"to_email":"someone@gmail.com"}`},
		{"every field", `{"to_email":"someone@gmail.com","from_email":"me@example.org","hello_name":"example.org",` +
			`"proxy":{"host":"proxy.example.net","port":1080,"username":"user","password":"pass","timeout_ms":10000},` +
			`"smtp_port":587,"smtp_timeout":{"secs":45,"nanos":0},"retries":2,"gmail_verif_method":"Smtp",` +
			`"hotmailb2b_verif_method":"Smtp","hotmailb2c_verif_method":"Headless","yahoo_verif_method":"Api","check_gravatar":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			hs := newHarness(t, nil)
			hs.checker.fn = func(_ context.Context, req engine.Request) (engine.Result, error) {
				got, _ = json.Marshal(req)
				return testResult(req.ToEmail, engine.Safe), nil
			}
			if r := hs.do(t, "POST", "/v1/check_email", tt.body, nil); r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			if string(got) != tt.body {
				t.Errorf("engine request\n got %s\nwant %s", got, tt.body)
			}
		})
	}
}

// TestReacherBulkRoundTrip: Reacher's bulk body is accepted and its webhook
// is stored and queued unchanged.
func TestReacherBulkRoundTrip(t *testing.T) {
	webhook := `{"on_each_email":{"url":"https://example.com/hook","headers":{"authorization":"Bearer x"},"extra":{"list":"march","n":[1,2]}}}`
	hs := newHarness(t, nil)
	r := hs.do(t, "POST", "/v1/bulk", `{"input":["a@example.com","b@example.com"],"webhook":`+webhook+`}`, nil)
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	job, err := hs.store.GetJob(context.Background(), "1001")
	if err != nil || string(job.Webhook) != webhook {
		t.Fatalf("stored webhook %s (%v)", job.Webhook, err)
	}
	msgs, _ := hs.queue.sent()
	if len(msgs) != 1 || string(msgs[0].Webhook) != webhook {
		t.Fatalf("queued %+v", msgs)
	}
}
