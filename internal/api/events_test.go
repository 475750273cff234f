package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// matchRoute returns the route of Routes() that method and path match, with
// the values of its path parameters.
func matchRoute(method, path string) (Route, map[string]string, bool) {
	segs := strings.Split(path, "/")
	for _, rt := range Routes() {
		tmpl := strings.Split(rt.Path, "/")
		if rt.Method != method || len(tmpl) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, s := range tmpl {
			switch {
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && segs[i] != "":
				params[strings.Trim(s, "{}")] = segs[i]
			case s != segs[i]:
				ok = false
			}
		}
		if ok {
			return rt, params, true
		}
	}
	return Route{}, nil, false
}

// TestEventFiles checks that events/api-*.json are what API Gateway sends:
// the HTTP API declares exact routes (infra/template.yaml) and answers any
// other path itself without invoking the function, so every event is for
// one of the routes, with routeKey "METHOD /path/{param}" in both places,
// pathParameters to match, and content-length the body's.
// LambdaHandler reads rawPath and the method, never routeKey.
func TestEventFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "api-*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events/api-*.json (%v)", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			ev := loadEvent(t, name)
			rt, params, ok := matchRoute(ev.RequestContext.HTTP.Method, ev.RawPath)
			if !ok || rt.LocalOnly {
				t.Fatalf("%s %s is no route of the HTTP API: API Gateway would answer 404 without invoking the function",
					ev.RequestContext.HTTP.Method, ev.RawPath)
			}
			wantKey, wantParams := rt.Method+" "+rt.Path, map[string]string(nil)
			if len(params) > 0 {
				wantParams = params
			}
			if ev.RouteKey != wantKey || ev.RequestContext.RouteKey != wantKey {
				t.Errorf("routeKey %q, requestContext.routeKey %q, want %q", ev.RouteKey, ev.RequestContext.RouteKey, wantKey)
			}
			if got, _ := json.Marshal(ev.PathParameters); string(got) != mustJSON(t, wantParams) {
				t.Errorf("pathParameters %s, want %s", got, mustJSON(t, wantParams))
			}
			if ev.RawPath != ev.RequestContext.HTTP.Path {
				t.Errorf("rawPath %q, requestContext.http.path %q", ev.RawPath, ev.RequestContext.HTTP.Path)
			}
			checkContentLength(t, ev)
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkContentLength compares the content-length header, when present,
// with the length of the decoded body.
func checkContentLength(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
	t.Helper()
	cl, ok := ev.Headers["content-length"]
	if !ok {
		return
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			t.Fatalf("body: %v", err)
		}
	}
	if cl != strconv.Itoa(len(body)) {
		t.Errorf("content-length %s, body %d bytes", cl, len(body))
	}
}

// bulkBodyOfSize is a bulk body of n addresses, exactly size bytes long.
func bulkBodyOfSize(t *testing.T, n, size int) string {
	t.Helper()
	const frame = len(`{"input":[]}`)
	room := size - frame - (n - 1) // for the elements, quotes included
	var b strings.Builder
	b.WriteString(`{"input":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		addr := fmt.Sprintf("u%06d@d.test", i)
		pad := room/n - 2 - len(addr)
		if i < room%n {
			pad++ // spread the remainder over the first elements
		}
		fmt.Fprintf(&b, `"%s%s"`, strings.Repeat("x", pad), addr)
	}
	b.WriteString(`]}`)
	if b.Len() != size {
		t.Fatalf("body of %d bytes, want %d", b.Len(), size)
	}
	return b.String()
}

// TestLambdaMaxBulkBytes: a bulk body of LambdaMaxBulkBytes with the most
// addresses a job may have (the most quotes to escape) still fits in
// Lambda's synchronous invocation payload once wrapped in the API Gateway
// event, so it reaches the handler, which accepts it; one byte more is the
// handler's own 413.
func TestLambdaMaxBulkBytes(t *testing.T) {
	const lambdaPayload = 6_000_000 // "6 MB", read as decimal to stay on the safe side
	body := bulkBodyOfSize(t, 100_000, LambdaMaxBulkBytes)
	ev := loadEvent(t, "api-bulk-create.json")
	ev.Body = body
	ev.Headers["content-length"] = strconv.Itoa(len(body))
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > lambdaPayload {
		t.Errorf("event of %d bytes, over Lambda's %d", len(raw), lambdaPayload)
	}
	hs := newHarness(t, func(c *Config, _ *Deps) { c.MaxBulkBytes = LambdaMaxBulkBytes })
	handler := LambdaHandler(hs.h)
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"at the limit", body, 200},
		{"one byte over", body + " ", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev.Body = tt.body
			out, err := handler(context.Background(), ev)
			if err != nil || out.StatusCode != tt.status {
				t.Fatalf("got %d %.200s %v, want %d", out.StatusCode, out.Body, err, tt.status)
			}
		})
	}
}
