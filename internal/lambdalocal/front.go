package lambdalocal

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

// API Gateway HTTP API limits: a request body of 10 MB and an integration
// that answers within 30 s.
const (
	maxBodyBytes       = 10 << 20
	integrationTimeout = 30 * time.Second
)

// front is the HTTP API: it turns requests into payload-2.0 events for
// the template's routes and the functions' answers into responses, and
// answers what API Gateway itself answers (404 for unknown routes, 500 for
// a failed function, 503 when the integration times out).
type front struct {
	router  *router
	targets map[string]target // by function logical id
	apiID   string
	log     *slog.Logger
	// timeout is API Gateway's integration timeout (default 30 s).
	timeout time.Duration
}

// gatewayError writes API Gateway's own error body.
func gatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"message":"`+msg+`"}`)
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("Apigw-Requestid", reqID)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		gatewayError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	rt, params, ok := f.router.match(r.Method, r.URL.Path)
	if !ok {
		gatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	tg, ok := f.targets[rt.Function]
	if !ok || rt.PayloadFormatVersion != "2.0" {
		f.log.Error("route has no usable integration", "route", rt.Key(), "payload_format", rt.PayloadFormatVersion)
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	ev, _ := json.Marshal(httpEvent(r, body, rt.Key(), params, f.apiID, reqID)) // plain data always marshals
	timeout := cmp.Or(f.timeout, integrationTimeout)
	if rt.Timeout > 0 && rt.Timeout < timeout {
		timeout = rt.Timeout
	}
	// The invocation runs to its end even when API Gateway stops
	// waiting for it (a client gone, the integration timeout), as on AWS.
	done := make(chan rie.Result, 1)
	go func() { done <- tg.call(context.WithoutCancel(r.Context()), ev) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-timer.C:
		gatewayError(w, http.StatusServiceUnavailable, "Service Unavailable")
	case <-r.Context().Done():
	case res := <-done:
		if res.Outcome != rie.Invoked {
			f.log.Warn("integration failed", "route", rt.Key(), "outcome", res.Outcome.String(), "detail", res.Detail)
			gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		writeResponse(w, res.Payload, f.log)
	}
}

// writeResponse turns a payload-2.0 answer into HTTP. An answer without
// statusCode is a bare result, which API Gateway sends as a 200 JSON body.
func writeResponse(w http.ResponseWriter, payload []byte, log *slog.Logger) {
	var probe map[string]json.RawMessage
	var resp events.APIGatewayV2HTTPResponse
	if json.Unmarshal(payload, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(payload)
		return
	}
	if err := json.Unmarshal(payload, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		log.Warn("malformed function response", "error", err, "status", resp.StatusCode)
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		body = b
	}
	h := w.Header()
	for k, vs := range resp.MultiValueHeaders {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// isText reports whether API Gateway passes a body of this content type
// as text; other bodies arrive base64-encoded.
func isText(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	return ct == "" || strings.HasPrefix(ct, "text/") || strings.HasSuffix(ct, "/json") ||
		strings.HasSuffix(ct, "+json") || strings.HasSuffix(ct, "/xml") || strings.HasSuffix(ct, "+xml") ||
		ct == "application/javascript"
}
