package rie

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestInvokeOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		delay  time.Duration
		want   Outcome
	}{
		{"result", 200, `{"statusCode":200}`, 0, Invoked},
		{"error document", 200, `{"errorMessage":"x","errorType":"y","stackTrace":[]}`, 0, FunctionError},
		{"error-looking result", 200, `{"errorMessage":"x","errorType":"y","other":1}`, 0, Invoked},
		{"timeout text", 200, "Task timed out after 3.00 seconds", 0, TimedOut},
		{"runtime exited", 502, `{"errorType":"Runtime.ExitError"}`, 0, Crashed},
		{"no answer", 200, "{}", 200 * time.Millisecond, TimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(tt.delay)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			ctx := t.Context()
			timeout := time.Second
			if tt.delay > 0 {
				timeout = -InvokeGrace + 50*time.Millisecond
			}
			got := Invoke(ctx, srv.URL, []byte("{}"), timeout)
			if got.Outcome != tt.want {
				t.Errorf("outcome %v (%s), want %v", got.Outcome, got.Detail, tt.want)
			}
			if healthy := tt.want == Invoked || tt.want == FunctionError; got.Healthy() != healthy {
				t.Errorf("Healthy = %v, want %v", got.Healthy(), healthy)
			}
		})
	}
	if got := Invoke(t.Context(), "http://127.0.0.1:1/", nil, time.Second); got.Outcome != Crashed {
		t.Errorf("refused connection: %v, want crashed", got.Outcome)
	}
}
