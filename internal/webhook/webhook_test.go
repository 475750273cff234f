package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a real HTTP server on 127.0.0.1 that answers with the next
// scripted status and records what it got.
type receiver struct {
	mu       sync.Mutex
	statuses []int // answered in turn; 200 once exhausted
	headers  []http.Header
	bodies   [][]byte
	extraHdr map[string]string
	srv      *httptest.Server
}

func startReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.bodies = append(r.bodies, b)
		code := http.StatusOK
		if len(r.statuses) > 0 {
			code, r.statuses = r.statuses[0], r.statuses[1:]
		}
		hdr := r.extraHdr
		r.mu.Unlock()
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		if code == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// recordSleep replaces real waits and records them.
type recordSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *recordSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func TestPostBodyAndHeaders(t *testing.T) {
	tests := []struct {
		name      string
		extra     string
		wantExtra string
	}{
		{"with extra", `{"list":"newsletter","id":7}`, `{"list":"newsletter","id":7}`},
		{"without extra", ``, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startReceiver(t)
			c := New(Options{})
			target := Target{URL: r.srv.URL + "/hook?token=s3cret", Headers: map[string]string{"X-Reacher-Secret": "abc"},
				Extra: json.RawMessage(tt.extra)}
			result := json.RawMessage(`{"input":"a@example.com","is_reachable":"safe"}`)
			if err := c.Post(context.Background(), target, result); err != nil {
				t.Fatalf("Post: %v", err)
			}
			if r.calls() != 1 {
				t.Fatalf("got %d calls, want 1", r.calls())
			}
			want := `{"result":{"input":"a@example.com","is_reachable":"safe"},"extra":` + tt.wantExtra + `}`
			if got := string(r.bodies[0]); got != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
			h := r.headers[0]
			if got := h.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := h.Get("X-Reacher-Secret"); got != "abc" {
				t.Errorf("X-Reacher-Secret = %q, want abc", got)
			}
		})
	}
}

func TestPostRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		retryHdr  string
		attempts  int
		wantCalls int
		wantWaits []time.Duration
		wantCode  int // 0: success
	}{
		{"success first", nil, "", 3, 1, nil, 0},
		{"two 5xx then ok", []int{500, 503}, "", 3, 3, []time.Duration{time.Second, 2 * time.Second}, 0},
		{"all 5xx", []int{502, 502, 502, 502}, "", 3, 3, []time.Duration{time.Second, 2 * time.Second}, 502},
		{"400 is permanent", []int{400}, "", 3, 1, nil, 400},
		{"404 is permanent", []int{404}, "", 3, 1, nil, 404},
		{"429 honours Retry-After", []int{429}, "7", 3, 2, []time.Duration{7 * time.Second}, 0},
		{"Retry-After capped", []int{429}, "3600", 3, 2, []time.Duration{30 * time.Second}, 0},
		{"redirect not followed", []int{302}, "", 3, 1, nil, 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startReceiver(t, tt.statuses...)
			if tt.retryHdr != "" {
				r.extraHdr = map[string]string{"Retry-After": tt.retryHdr}
			}
			s := &recordSleep{}
			c := New(Options{Attempts: tt.attempts, Sleep: s.sleep})
			err := c.Post(context.Background(), Target{URL: r.srv.URL}, json.RawMessage(`{}`))
			if got := r.calls(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if fmt.Sprint(s.waits) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits = %v, want %v", s.waits, tt.wantWaits)
			}
			var se *StatusError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Errorf("Post: %v", err)
			case tt.wantCode != 0 && (!errors.As(err, &se) || se.Code != tt.wantCode):
				t.Errorf("Post error = %v, want status %d", err, tt.wantCode)
			}
		})
	}
}

func TestPostTimeoutBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	s := &recordSleep{}
	c := New(Options{Timeout: 20 * time.Millisecond, Attempts: 2, Sleep: s.sleep})
	err := c.Post(context.Background(), Target{URL: srv.URL}, json.RawMessage(`{}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Post error = %v, want a deadline error", err)
	}
	if len(s.waits) != 1 {
		t.Errorf("waits = %v, want one retry after the first timeout", s.waits)
	}
}

func TestPostStopsWhenContextEnds(t *testing.T) {
	r := startReceiver(t, 500, 500, 500)
	ctx, cancel := context.WithCancel(context.Background())
	c := New(Options{Attempts: 3, Sleep: func(context.Context, time.Duration) error {
		cancel()
		return context.Canceled
	}})
	err := c.Post(ctx, Target{URL: r.srv.URL}, json.RawMessage(`{}`))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Post error = %v, want context.Canceled", err)
	}
	if r.calls() != 1 {
		t.Errorf("calls = %d, want 1", r.calls())
	}
}

func TestCheckAddrRefusesBeforeConnecting(t *testing.T) {
	r := startReceiver(t)
	errPrivate := errors.New("private address")
	c := New(Options{Attempts: 1, CheckAddr: func(a netip.Addr) error {
		if a.IsLoopback() {
			return fmt.Errorf("%s: %w", a, errPrivate)
		}
		return nil
	}})
	err := c.Post(context.Background(), Target{URL: r.srv.URL}, json.RawMessage(`{}`))
	if !errors.Is(err, errPrivate) {
		t.Fatalf("Post error = %v, want the CheckAddr error", err)
	}
	if r.calls() != 0 {
		t.Errorf("receiver got %d calls, want none", r.calls())
	}
}

func TestErrorsAndLogsHideSecrets(t *testing.T) {
	s := &recordSleep{}
	c := New(Options{Attempts: 1, Sleep: s.sleep})
	// Port 1 on loopback: connection refused, an error that quotes the URL
	// when left to net/http.
	target := Target{URL: "http://user:pa55word@127.0.0.1:1/services/T0/B0/pathS3cret?token=s3cret", Headers: map[string]string{"Authorization": "Bearer t0ken"}}
	err := c.Post(context.Background(), target, json.RawMessage(`{}`))
	if err == nil {
		t.Fatal("Post to a closed port succeeded")
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("webhook failed", "webhook", target, "err", err)
	for _, secret := range []string{"pa55word", "s3cret", "t0ken", "pathS3cret", "services"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log line contains %q: %s", secret, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "http://127.0.0.1:1/[redacted]") {
		t.Errorf("log line lacks the redacted URL: %s", buf.String())
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantURL string // "" with wantErr false: no target
		wantErr bool
	}{
		{"absent", ``, "", false},
		{"null", `null`, "", false},
		{"no on_each_email", `{}`, "", false},
		{"on_each_email null", `{"on_each_email":null}`, "", false},
		{"reacher shape", `{"on_each_email":{"url":"https://example.com/h","extra":{"a":1}}}`, "https://example.com/h", false},
		{"with headers", `{"on_each_email":{"url":"http://example.com/h","headers":{"x":"y"}}}`, "http://example.com/h", false},
		{"bad json", `{"on_each_email":`, "", true},
		{"wrong type", `{"on_each_email":"http://example.com"}`, "", true},
		{"ftp scheme", `{"on_each_email":{"url":"ftp://example.com/h"}}`, "", true},
		{"no host", `{"on_each_email":{"url":"http:///h"}}`, "", true},
		{"empty url", `{"on_each_email":{"url":""}}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(json.RawMessage(tt.raw))
			if tt.wantErr {
				if !errors.Is(err, ErrBadTarget) {
					t.Fatalf("Parse error = %v, want ErrBadTarget", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			switch {
			case tt.wantURL == "" && got != nil:
				t.Errorf("got target %+v, want none", got)
			case tt.wantURL != "" && (got == nil || got.URL != tt.wantURL):
				t.Errorf("got %+v, want URL %s", got, tt.wantURL)
			}
		})
	}
}
