package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// TestLambdaEvents replays events/api-*.json (secret "test-secret")
// through LambdaHandler, in order: the bulk job created by
// api-bulk-create.json is the one the status and results events read.
func TestLambdaEvents(t *testing.T) {
	hs := newHarness(t, nil)
	handler := LambdaHandler(hs.h)
	tests := []struct {
		file        string
		status      int
		contentType string
		check       func(t *testing.T, body []byte)
	}{
		{"api-check-email.json", 200, "application/json", func(t *testing.T, b []byte) {
			if !bytes.HasPrefix(b, []byte(`{"input":"someone@example.com","is_reachable":"safe",`)) {
				t.Errorf("body %s", b)
			}
		}},
		{"api-check-email-v0.json", 200, "application/json", nil},
		{"api-check-email-bad-json.json", 400, "application/json", func(t *testing.T, b []byte) {
			if !bytes.Contains(b, []byte("unexpected end of input")) {
				t.Errorf("body %s", b)
			}
		}},
		{"api-check-email-missing-secret.json", 401, "application/json", nil},
		{"api-bulk-create.json", 200, "application/json", func(t *testing.T, b []byte) {
			if string(b) != `{"job_id":1001}` {
				t.Errorf("body %s", b)
			}
		}},
		{"api-bulk-status.json", 200, "application/json", func(t *testing.T, b []byte) {
			if !bytes.Contains(b, []byte(`"total_records":3`)) {
				t.Errorf("body %s", b)
			}
		}},
		{"api-bulk-results-csv.json", 200, "text/csv; charset=utf-8", func(t *testing.T, b []byte) {
			rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil || len(rows) != 1 || rows[0][0] != "input" {
				t.Errorf("csv %q %v", rows, err)
			}
		}},
		{"api-healthz.json", 200, "application/json", nil},
		{"api-version.json", 200, "application/json", nil},
		{"api-openapi.json", 200, "application/json", func(t *testing.T, b []byte) {
			if !bytes.Equal(b, OpenAPI()) {
				t.Error("openapi body differs")
			}
		}},
		{"api-not-found.json", 404, "application/json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev := loadEvent(t, tt.file)
			out, err := handler(context.Background(), ev)
			if err != nil {
				t.Fatalf("handler error: %v", err)
			}
			body := []byte(out.Body)
			if out.IsBase64Encoded {
				t.Fatalf("text response sent as base64")
			}
			if out.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", out.StatusCode, tt.status, body)
			}
			if got := out.Headers["Content-Type"]; got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := out.Headers["X-Request-Id"]; got != ev.RequestContext.RequestID {
				t.Errorf("X-Request-Id %q, want API Gateway's %q", got, ev.RequestContext.RequestID)
			}
			h := http.Header{}
			for k, v := range out.Headers {
				h.Set(k, v)
			}
			target := ev.RawPath
			if ev.RawQueryString != "" {
				target += "?" + ev.RawQueryString
			}
			hs.spec.check(t, ev.RequestContext.HTTP.Method, target, out.StatusCode, h, body)
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func TestLambdaAdapter(t *testing.T) {
	var seen *http.Request
	var seenBody []byte
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		seenBody, _ = readAll(r)
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Origin")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte{0xff, 0x00, 0x01})
	})
	ev := events.APIGatewayV2HTTPRequest{
		RawPath:         "/v1/bulk/a%2Fb",
		RawQueryString:  "format=csv&x=%20y",
		Cookies:         []string{"c1=v1", "c2=v2"},
		Headers:         map[string]string{"x-reacher-secret": "s", "accept": "a,b", "host": "api.example.com"},
		Body:            base64.StdEncoding.EncodeToString([]byte(`{"x":1}`)),
		IsBase64Encoded: true,
	}
	ev.RequestContext.HTTP.Method = "PUT"
	ev.RequestContext.HTTP.SourceIP = "198.51.100.1"
	ev.RequestContext.RequestID = "rid="
	out, err := LambdaHandler(h)(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, got, want string }{
		{"method", seen.Method, "PUT"},
		{"escaped path", seen.URL.EscapedPath(), "/v1/bulk/a%2Fb"},
		{"query", seen.URL.Query().Get("x"), " y"},
		{"secret header", seen.Header.Get("X-Reacher-Secret"), "s"},
		{"joined header", seen.Header.Get("Accept"), "a,b"},
		{"cookies", seen.Header.Get("Cookie"), "c1=v1; c2=v2"},
		{"host", seen.Host, "api.example.com"},
		{"request id", seen.Header.Get("X-Request-Id"), "rid="},
		{"remote addr", seen.RemoteAddr, "198.51.100.1:0"},
		{"body", string(seenBody), `{"x":1}`},
		{"status", http.StatusText(out.StatusCode), http.StatusText(http.StatusCreated)},
		{"set-cookie", strings.Join(out.Cookies, ";"), "a=1;b=2"},
		{"multi-value header", out.Headers["Vary"], "Accept,Origin"},
		{"binary body", out.Body, base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0x01})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	if !out.IsBase64Encoded || seen.ContentLength != 7 {
		t.Errorf("IsBase64Encoded %v, ContentLength %d", out.IsBase64Encoded, seen.ContentLength)
	}
}

func TestLambdaMalformedEvents(t *testing.T) {
	h := LambdaHandler(http.NotFoundHandler())
	tests := []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
	}{
		{"bad base64", events.APIGatewayV2HTTPRequest{RawPath: "/", Body: "!!!", IsBase64Encoded: true}},
		{"bad path", events.APIGatewayV2HTTPRequest{RawPath: "no-slash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := h(context.Background(), tt.ev)
			if err != nil || out.StatusCode != 400 || !json.Valid([]byte(out.Body)) {
				t.Errorf("got %d %q %v", out.StatusCode, out.Body, err)
			}
		})
	}
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}
