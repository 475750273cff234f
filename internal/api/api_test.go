package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/engine"
)

func TestAuth(t *testing.T) {
	hs := newHarness(t, nil)
	open := newHarness(t, func(c *Config, _ *Deps) { c.Secret, c.Open, c.AllowedHosts = "", true, []string{"example.com"} })
	closed := newHarness(t, func(c *Config, _ *Deps) { c.Secret, c.Open = "", false })
	check := `{"to_email":"someone@example.com"}`
	tests := []struct {
		name       string
		hs         *harness
		method     string
		target     string
		body       string
		secret     string // "" sends none
		wantStatus int
		wantErr    string
	}{
		{"check without secret", hs, "POST", "/v1/check_email", check, "", 401, "Missing x-reacher-secret header."},
		{"check with wrong secret", hs, "POST", "/v1/check_email", check, "nope", 401, "Invalid x-reacher-secret header."},
		{"check with a longer wrong secret", hs, "POST", "/v1/check_email", check, testSecret + "x", 401, "Invalid x-reacher-secret header."},
		{"check with secret", hs, "POST", "/v1/check_email", check, testSecret, 200, ""},
		{"v0 check without secret", hs, "POST", "/v0/check_email", check, "", 401, "Missing x-reacher-secret header."},
		{"bulk read without secret (Reacher forgets this one)", hs, "GET", "/v1/bulk/1", "", "", 401, "Missing x-reacher-secret header."},
		{"results without secret", hs, "GET", "/v1/bulk/1/results", "", "", 401, "Missing x-reacher-secret header."},
		{"single-shot status without secret", hs, "GET", "/v1/check_email/1", "", "", 401, "Missing x-reacher-secret header."},
		{"bulk create without secret", hs, "POST", "/v1/bulk", `{"input":["a@b.c"]}`, "", 401, "Missing x-reacher-secret header."},
		{"version needs no secret, as in Reacher", hs, "GET", "/version", "", "", 200, ""},
		{"openapi without secret", hs, "GET", "/openapi.json", "", "", 401, "Missing x-reacher-secret header."},
		{"healthz needs no secret", hs, "GET", "/healthz", "", "", 200, ""},
		{"open server needs no secret", open, "POST", "/v1/check_email", check, "", 200, ""},
		{"open server ignores a secret", open, "POST", "/v1/check_email", check, "whatever", 200, ""},
		{"no secret and not open fails closed", closed, "POST", "/v1/check_email", check, "", 401, "Missing x-reacher-secret header."},
		{"no secret and not open refuses any secret", closed, "GET", "/openapi.json", "", "anything", 401, "Invalid x-reacher-secret header."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.hs.do(t, tt.method, tt.target, tt.body, map[string]string{"x-reacher-secret": tt.secret})
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if tt.wantErr != "" {
				if got := r.errorText(t); got != tt.wantErr {
					t.Errorf("error %q, want %q", got, tt.wantErr)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want error
	}{
		{Config{Secret: "s"}, nil},
		{Config{Open: true}, nil},
		{Config{}, ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.cfg.Open), func(t *testing.T) {
			if err := tt.cfg.Validate(); !errors.Is(err, tt.want) {
				t.Errorf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	hs := newHarness(t, nil)
	tests := []struct {
		method, target string
		want           int
		wantErr        string
		wantAllow      string
	}{
		{"GET", "/nope", 404, "Not found.", ""},
		{"GET", "/v2/check_email", 404, "Not found.", ""},
		{"GET", "/metrics", 404, "Not found.", ""}, // not enabled in this server
		{"GET", "/v1/check_email", 405, "Method not allowed.", "POST"},
		{"PUT", "/v1/bulk", 405, "Method not allowed.", "POST"},
		{"DELETE", "/v1/bulk/12", 405, "Method not allowed.", "GET, HEAD"},
		{"POST", "/healthz", 405, "Method not allowed.", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			r := hs.do(t, tt.method, tt.target, "", nil)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if got := r.errorText(t); got != tt.wantErr {
				t.Errorf("error %q, want %q", got, tt.wantErr)
			}
			if got := r.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestMetaRoutes(t *testing.T) {
	metricsBody := "# TYPE reacher_verifications_total counter\nreacher_verifications_total{backend=\"test\"} 0\n"
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.ServeMetrics = true
		c.Version, c.Commit = "v1.2.3", "abc123"
		d.MetricsHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = w.Write([]byte(metricsBody))
		})
	})
	t.Run("healthz", func(t *testing.T) {
		r := hs.do(t, "GET", "/healthz", "", nil)
		if r.status != 200 || r.json(t)["status"] != "ok" {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("version", func(t *testing.T) {
		r := hs.do(t, "GET", "/version", "", nil)
		m := r.json(t)
		if r.status != 200 || m["version"] != "v1.2.3" || m["commit"] != "abc123" || m["go"] != nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("version from build info", func(t *testing.T) {
		r := newHarness(t, nil).do(t, "GET", "/version", "", nil)
		m := r.json(t)
		if _, ok := m["go"]; ok || m["version"] == "" || m["commit"] == "" {
			t.Fatalf("got %s", r.body)
		}
	})
	t.Run("openapi", func(t *testing.T) {
		r := hs.do(t, "GET", "/openapi.json", "", nil)
		if r.status != 200 || string(r.body) != string(OpenAPI()) {
			t.Fatalf("got %d, %d bytes", r.status, len(r.body))
		}
	})
	t.Run("metrics", func(t *testing.T) {
		r := hs.do(t, "GET", "/metrics", "", nil)
		if r.status != 200 || string(r.body) != metricsBody {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("metrics need the secret", func(t *testing.T) {
		r := hs.do(t, "GET", "/metrics", "", map[string]string{"x-reacher-secret": ""})
		if r.status != 401 {
			t.Fatalf("got %d", r.status)
		}
	})
	// Prometheus sends the secret as a bearer token; only /metrics takes
	// it, and only the right one.
	bearer := []struct {
		name, path, auth string
		want             int
	}{
		{"bearer token", "/metrics", "Bearer " + testSecret, 200},
		{"scheme in any case", "/metrics", "bearer " + testSecret, 200},
		{"wrong token", "/metrics", "Bearer not-the-secret", 401},
		{"basic scheme", "/metrics", "Basic " + testSecret, 401},
		{"bare secret", "/metrics", testSecret, 401},
		{"other routes keep x-reacher-secret", "/openapi.json", "Bearer " + testSecret, 401},
	}
	for _, tt := range bearer {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.do(t, "GET", tt.path, "", map[string]string{"x-reacher-secret": "", "Authorization": tt.auth})
			if r.status != tt.want {
				t.Fatalf("got %d, want %d", r.status, tt.want)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	hs := newHarness(t, nil)
	tests := []struct {
		name, sent string
		reused     bool
	}{
		{"generated", "", false},
		{"caller's id reused", "abc-123_x.y=", true},
		{"unsafe id replaced", "bad id\twith spaces", false},
		{"overlong id replaced", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.do(t, "GET", "/healthz", "", map[string]string{"X-Request-Id": tt.sent})
			got := r.header.Get("X-Request-Id")
			if tt.reused != (got == tt.sent) || got == "" {
				t.Errorf("X-Request-Id %q (sent %q)", got, tt.sent)
			}
		})
	}
}

func TestPanicIs500WithRequestID(t *testing.T) {
	hs := newHarness(t, func(_ *Config, d *Deps) {
		d.Checker = &fakeChecker{fn: func(_ context.Context, _ engine.Request) (engine.Result, error) {
			panic("secret internal detail")
		}}
	})
	r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@example.com"}`, nil)
	if r.status != 500 {
		t.Fatalf("status %d", r.status)
	}
	id := r.header.Get("X-Request-Id")
	msg := r.errorText(t)
	if msg != "Internal server error (request id "+id+")." || strings.Contains(string(r.body), "secret") {
		t.Errorf("500 body %s", r.body)
	}
	logged := false
	for _, l := range hs.logs.lines(t) {
		if l["request_id"] == id && l["status"] == float64(500) && strings.Contains(fmt.Sprint(l["error"]), "secret internal detail") {
			logged = true
		}
	}
	if !logged {
		t.Error("the panic was not logged with the request id")
	}
}

func TestRequestLog(t *testing.T) {
	tests := []struct {
		name      string
		logEmails bool
	}{
		{"without addresses", false},
		{"with addresses", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(c *Config, _ *Deps) { c.LogEmails = tt.logEmails })
			r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"someone@example.com"}`, nil)
			lines := hs.logs.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1", len(lines))
			}
			l := lines[0]
			if l["method"] != "POST" || l["route"] != "POST /v1/check_email" || l["status"] != float64(200) ||
				l["request_id"] != r.header.Get("X-Request-Id") || l["msg"] != "request" {
				t.Errorf("log line %v", l)
			}
			if _, ok := l["duration_ms"].(float64); !ok {
				t.Errorf("duration_ms missing: %v", l)
			}
			if _, has := l["email"]; has != tt.logEmails {
				t.Errorf("email logged = %v, want %v", has, tt.logEmails)
			}
		})
	}
}

func TestRoutesAreServed(t *testing.T) {
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.ServeMetrics = true
		d.MetricsHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
		})
	})
	for _, rt := range Routes() {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			target := strings.NewReplacer("{job_id}", "42", "{asset}", "main.js").Replace(rt.Path)
			r := hs.do(t, rt.Method, target, "{}", nil)
			if r.status == 404 && r.errorText(t) == "Not found." || r.status == 405 {
				t.Errorf("route not served: %d %s", r.status, r.body)
			}
		})
	}
}
