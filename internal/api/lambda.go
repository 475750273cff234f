package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaHandler adapts h to API Gateway HTTP API events (payload format
// 2.0), for lambda.Start.
//
// It is written here rather than taken from awslabs/aws-lambda-go-api-proxy:
// that module is not in the module cache or go.mod, the translation is
// ~100 lines, and owning it keeps the cold start free of the proxy's
// framework adapters. Malformed events (bad base64, unparsable path) are
// answered 400 rather than returned as errors, which API Gateway would turn
// into an opaque 500.
func LambdaHandler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r, err := requestFromEvent(ctx, ev)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{
				StatusCode: http.StatusBadRequest,
				Headers:    map[string]string{"Content-Type": "application/json"},
				Body:       string(errorBody("Malformed API Gateway event: " + err.Error() + ".")),
			}, nil
		}
		rec := newRecorder()
		h.ServeHTTP(rec, r)
		return rec.event(), nil
	}
}

// requestFromEvent builds the *http.Request that API Gateway received.
func requestFromEvent(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	var body []byte
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, errBadBase64
		}
		body = b
	} else {
		body = []byte(ev.Body)
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	target := path
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, errBadPath
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, errBadMethod
	}
	r.URL, r.RequestURI = u, target
	r.ContentLength = int64(len(body))
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	for k, v := range ev.Headers {
		// API Gateway joins repeated headers with commas (payload 2.0).
		r.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = ev.RequestContext.DomainName
	}
	if r.Header.Get(headerRequestID) == "" && ev.RequestContext.RequestID != "" {
		// Log lines then carry API Gateway's id, which its access logs show.
		r.Header.Set(headerRequestID, ev.RequestContext.RequestID)
	}
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return r, nil
}

type adapterError string

func (e adapterError) Error() string { return string(e) }

const (
	errBadBase64 adapterError = "body is not valid base64"
	errBadPath   adapterError = "rawPath is not a valid request path"
	errBadMethod adapterError = "invalid HTTP method"
)

// recorder is a minimal http.ResponseWriter that buffers the response for
// the Lambda reply.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: make(http.Header)} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// event converts the recorded response. Set-Cookie goes to Cookies (payload
// 2.0 has no multi-value headers); other repeated headers are joined with
// commas (RFC 9110 §5.3). Text bodies travel as is, anything else base64.
func (r *recorder) event() events.APIGatewayV2HTTPResponse {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	out := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: make(map[string]string, len(r.header))}
	for k, vs := range r.header {
		if k == "Set-Cookie" {
			out.Cookies = append(out.Cookies, vs...)
			continue
		}
		out.Headers[k] = strings.Join(vs, ",")
	}
	b := r.body.Bytes()
	if isText(r.header.Get("Content-Type")) && utf8.Valid(b) {
		out.Body = string(b)
	} else {
		out.Body = base64.StdEncoding.EncodeToString(b)
		out.IsBase64Encoded = true
	}
	return out
}

func isText(contentType string) bool {
	ct := strings.ToLower(contentType)
	return ct == "" || strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "xml") || strings.Contains(ct, "javascript")
}
