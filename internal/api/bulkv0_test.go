package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/throttle"
)

// TestBulkV0: Reacher's POST /v0/bulk body (input_type, input and the
// per-job options) creates a job whose options reach every queue message;
// the job is read under /v0 as under /v1.
func TestBulkV0(t *testing.T) {
	hs := newHarness(t, nil)
	body := `{"input_type":"array","input":["a@one.test","b@two.test"],
		"hello_name":"mx.example.org","from_email":"probe@example.org","smtp_ports":[587,25],
		"proxy":{"host":"proxy.example.net","port":1080,"username":"u","password":"p","timeout_ms":5000}}`
	r := hs.do(t, "POST", "/v0/bulk", body, nil)
	if r.status != 200 || string(r.body) != `{"job_id":1001}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	msgs, _ := hs.queue.sent()
	if len(msgs) == 0 {
		t.Fatal("nothing queued")
	}
	for _, m := range msgs {
		var req engine.Request
		if err := json.Unmarshal(m.Request, &req); err != nil {
			t.Fatalf("message request %s: %v", m.Request, err)
		}
		if req.HelloName != "mx.example.org" || req.FromEmail != "probe@example.org" || req.SMTPPort != 587 ||
			req.Proxy == nil || req.Proxy.Host != "proxy.example.net" || req.Proxy.Password != "p" || req.ToEmail != "" {
			t.Errorf("message options %s", m.Request)
		}
	}
	// The same job under both versions.
	hs.storeResult(t, "1001", 0, testResult("a@one.test", engine.Safe))
	for _, v := range []string{"v0", "v1"} {
		st := hs.do(t, "GET", "/"+v+"/bulk/1001", "", nil)
		if st.status != 200 || st.json(t)["total_records"] != float64(2) || st.json(t)["total_processed"] != float64(1) {
			t.Errorf("%s status: %d %s", v, st.status, st.body)
		}
		res := hs.do(t, "GET", "/"+v+"/bulk/1001/results", "", nil)
		if res.status != 200 || len(res.json(t)["results"].([]any)) != 1 {
			t.Errorf("%s results: %d %s", v, res.status, res.body)
		}
	}
	// A v1 body with v0 options: ignored, as Reacher ignores unknown fields.
	r = hs.do(t, "POST", "/v1/bulk", `{"input":["c@three.test"],"hello_name":"x y","smtp_ports":"nonsense"}`, nil)
	if r.status != 200 {
		t.Fatalf("v1 with v0 fields: %d %s", r.status, r.body)
	}
	msgs, _ = hs.queue.sent()
	if last := msgs[len(msgs)-1]; last.Request != nil {
		t.Errorf("v1 job got options %s", last.Request)
	}
}

func TestBulkV0BadInput(t *testing.T) {
	hs := newHarness(t, nil)
	tests := []struct{ name, body, wantErr string }{
		{"no input", `{"input_type":"array"}`, "input field is required."},
		{"input_type not a string", `{"input_type":1,"input":["a@b.c"]}`, "Field input_type must be a string, not number."},
		{"port out of range", `{"input":["a@b.c"],"smtp_ports":[25,0]}`, "smtp_ports[1] must be between 1 and 65535."},
		{"ports not a list", `{"input":["a@b.c"],"smtp_ports":25}`, "Field smtp_ports must be an array, not number."},
		{"hello_name with a space", `{"input":["a@b.c"],"hello_name":"a b"}`, "hello_name must be a single word of printable ASCII (no spaces, line breaks or other characters)."},
		{"bad from_email", `{"input":["a@b.c"],"from_email":"<x@y.z>"}`, "from_email must be a bare address."},
		{"proxy without port", `{"input":["a@b.c"],"proxy":{"host":"p"}}`, "proxy needs a host and a port between 1 and 65535."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.do(t, "POST", "/v0/bulk", tt.body, nil)
			if r.status != 400 || r.errorText(t) != tt.wantErr {
				t.Fatalf("got %d %q, want 400 %q", r.status, r.errorText(t), tt.wantErr)
			}
		})
	}
	if msgs, _ := hs.queue.sent(); len(msgs) != 0 {
		t.Errorf("a refused body queued %d messages", len(msgs))
	}
}

// TestReacherDefaults: no cache and no throttle unless configured, as
// Reacher; a configured throttle counts both check routes and both bulk
// creations (Reacher counts /v1/check_email only), never reads.
func TestReacherDefaults(t *testing.T) {
	d := DefaultConfig()
	if d.CacheTTL != 0 || d.Throttle != (throttle.Limits{}) {
		t.Fatalf("defaults: cache %v, throttle %+v; want both off", d.CacheTTL, d.Throttle)
	}
	hs := newHarness(t, func(c *Config, _ *Deps) { c.CacheTTL, c.Throttle = d.CacheTTL, d.Throttle })
	for i := range 150 {
		r := hs.do(t, "POST", "/v0/check_email", `{"to_email":"a@example.com"}`, nil)
		if r.status != 200 || r.header.Get(headerCache) != "off" {
			t.Fatalf("request %d: %d %s cache %q", i, r.status, r.body, r.header.Get(headerCache))
		}
	}

	limited := newHarness(t, func(c *Config, _ *Deps) { c.Throttle = throttle.Limits{PerMinute: 4} })
	for _, rt := range []struct{ target, body string }{
		{"/v0/check_email", `{"to_email":"a@example.com"}`}, {"/v1/check_email", `{"to_email":"a@example.com"}`},
		{"/v0/bulk", `{"input":["a@example.com"]}`}, {"/v1/bulk", `{"input":["a@example.com"]}`},
	} {
		if r := limited.do(t, "POST", rt.target, rt.body, nil); r.status != 200 {
			t.Fatalf("%s within the limit: %d %s", rt.target, r.status, r.body)
		}
	}
	for _, target := range []string{"/v0/check_email", "/v1/check_email", "/v0/bulk", "/v1/bulk"} {
		body := `{"to_email":"a@example.com","input":["a@example.com"]}`
		if r := limited.do(t, "POST", target, body, nil); r.status != 429 || !strings.HasPrefix(r.errorText(t), "Rate limit per minute exceeded") {
			t.Errorf("%s over the limit: %d %s", target, r.status, r.body)
		}
	}
	for _, target := range []string{"/v0/bulk/1001", "/v1/bulk/1001", "/v1/bulk/1001/results", "/v0/bulk/1001/results", "/version"} {
		if r := limited.do(t, "GET", target, "", nil); r.status == 429 {
			t.Errorf("GET %s is throttled", target)
		}
	}
	if _, err := limited.store.GetJob(context.Background(), "1001"); err != nil {
		t.Fatal(err)
	}
}
