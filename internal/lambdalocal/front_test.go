package lambdalocal

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// function answers by the event's path, as a handler might.
func function(seen chan<- events.APIGatewayV2HTTPRequest) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if seen != nil {
			seen <- ev
		}
		var out any
		switch ev.RawPath {
		case "/v1/ok":
			out = events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"X-A": "1", "Content-Type": "text/plain"},
				Cookies: []string{"c=1", "d=2"}, Body: "hi"}
		case "/v1/bare":
			out = map[string]int{"a": 1}
		case "/v1/b64":
			out = events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString([]byte{0, 1, 2}), IsBase64Encoded: true}
		case "/v1/error":
			out = map[string]string{"errorMessage": "boom", "errorType": "Err"}
		case "/v1/timeout":
			_, _ = io.WriteString(w, "Task timed out after 1.00 seconds")
			return
		case "/v1/crash":
			w.WriteHeader(http.StatusBadGateway)
			return
		case "/v1/slow":
			time.Sleep(300 * time.Millisecond)
		case "/v1/badstatus":
			out = map[string]any{"statusCode": 42}
		}
		_ = json.NewEncoder(w).Encode(out)
	}
}

func testFront(t *testing.T, seen chan events.APIGatewayV2HTTPRequest) *httptest.Server {
	t.Helper()
	p, _ := fakePool(t, 2, function(seen))
	routes := []samtemplate.Route{
		{Function: "Fn", Method: "GET", Path: "/v1/{name}", PayloadFormatVersion: "2.0"},
		{Function: "Fn", Method: "POST", Path: "/v1/items/{id}", PayloadFormatVersion: "2.0"},
	}
	f := &front{router: newRouter(routes), targets: map[string]target{"Fn": {pool: p, timeout: time.Second}},
		apiID: "api1", log: slog.New(slog.DiscardHandler), timeout: 150 * time.Millisecond}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func TestFrontAnswers(t *testing.T) {
	srv := testFront(t, nil)
	tests := []struct {
		method, path string
		body         string
		status       int
		wantBody     string
		header       map[string]string
	}{
		{"GET", "/v1/ok", "", 201, "hi", map[string]string{"X-A": "1", "Content-Type": "text/plain"}},
		{"GET", "/v1/bare", "", 200, `{"a":1}` + "\n", map[string]string{"Content-Type": "application/json"}},
		{"GET", "/v1/b64", "", 200, "\x00\x01\x02", nil},
		{"GET", "/v1/error", "", 500, `{"message":"Internal Server Error"}`, nil},
		{"GET", "/v1/timeout", "", 500, `{"message":"Internal Server Error"}`, nil},
		{"GET", "/v1/crash", "", 500, `{"message":"Internal Server Error"}`, nil},
		{"GET", "/v1/badstatus", "", 500, `{"message":"Internal Server Error"}`, nil},
		{"GET", "/v1/slow", "", 503, `{"message":"Service Unavailable"}`, nil},
		{"GET", "/v2/ok", "", 404, `{"message":"Not Found"}`, nil},
		{"DELETE", "/v1/ok", "", 404, `{"message":"Not Found"}`, nil},
		{"GET", "/v1/ok/", "", 404, `{"message":"Not Found"}`, nil},
		{"POST", "/v1/items/1", strings.Repeat("x", maxBodyBytes+1), 413, `{"message":"Request Entity Too Large"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || string(b) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tt.status, tt.wantBody)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if resp.Header.Get("Apigw-Requestid") == "" {
				t.Error("no Apigw-Requestid header")
			}
			if tt.status == 201 && !reflect.DeepEqual(resp.Header.Values("Set-Cookie"), []string{"c=1", "d=2"}) {
				t.Errorf("cookies %v", resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

func TestFrontEvent(t *testing.T) {
	seen := make(chan events.APIGatewayV2HTTPRequest, 2)
	srv := testFront(t, seen)
	tests := []struct {
		name, contentType, body string
		wantBody                string
		base64                  bool
	}{
		{"json", "application/json", `{"to_email":"a@b.c"}`, `{"to_email":"a@b.c"}`, false},
		{"binary", "application/octet-stream", "\xff\x00", base64.StdEncoding.EncodeToString([]byte("\xff\x00")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/items/42?a=1&a=2&b=%20x", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Add("X-Multi", "one")
			req.Header.Add("X-Multi", "two")
			req.Header.Set("Cookie", "s=1; t=2")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ev := <-seen
			checks := []struct {
				name      string
				got, want any
			}{
				{"version", ev.Version, "2.0"},
				{"routeKey", ev.RouteKey, "POST /v1/items/{id}"},
				{"requestContext.routeKey", ev.RequestContext.RouteKey, "POST /v1/items/{id}"},
				{"rawPath", ev.RawPath, "/v1/items/42"},
				{"rawQueryString", ev.RawQueryString, "a=1&a=2&b=%20x"},
				{"query", ev.QueryStringParameters, map[string]string{"a": "1,2", "b": " x"}},
				{"pathParameters", ev.PathParameters, map[string]string{"id": "42"}},
				{"cookies", ev.Cookies, []string{"s=1", "t=2"}},
				{"x-multi", ev.Headers["x-multi"], "one,two"},
				{"cookie header", ev.Headers["cookie"], ""},
				{"content-type", ev.Headers["content-type"], tt.contentType},
				{"method", ev.RequestContext.HTTP.Method, "POST"},
				{"sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
				{"stage", ev.RequestContext.Stage, "$default"},
				{"apiId", ev.RequestContext.APIID, "api1"},
				{"body", ev.Body, tt.wantBody},
				{"isBase64Encoded", ev.IsBase64Encoded, tt.base64},
			}
			for _, c := range checks {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
				}
			}
			if ev.RequestContext.RequestID == "" || ev.RequestContext.TimeEpoch == 0 || ev.Headers["x-amzn-trace-id"] == "" {
				t.Errorf("request id, time or trace id missing: %+v", ev.RequestContext)
			}
		})
	}
}

// TestFrontConcurrency: requests beyond the pool's instances wait for one,
// and each instance serves one invocation at a time.
func TestFrontConcurrency(t *testing.T) {
	var mu sync.Mutex
	active, peak := 0, 0
	p, started := fakePool(t, 2, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		active++
		peak = max(peak, active)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		active--
		mu.Unlock()
		_, _ = io.WriteString(w, `{"statusCode":204}`)
	})
	f := &front{router: newRouter([]samtemplate.Route{{Function: "Fn", Method: "ANY", PayloadFormatVersion: "2.0"}}),
		targets: map[string]target{"Fn": {pool: p, timeout: time.Second}}, log: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/anything/at/all")
			if err != nil || resp.StatusCode != 204 {
				t.Errorf("%v %v", resp, err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	if peak > 2 || *started > 2 {
		t.Errorf("peak %d concurrent invocations on %d instances, want at most 2", peak, *started)
	}
}
