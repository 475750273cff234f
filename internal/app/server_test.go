package app

import (
	"net/http"
	"testing"
	"time"
)

func TestHTTPServerTimeouts(t *testing.T) {
	tests := []struct {
		budget    time.Duration
		wantWrite time.Duration
	}{
		{25 * time.Second, 60 * time.Second}, // the default inline budget
		{90 * time.Second, 125 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.budget.String(), func(t *testing.T) {
			srv := newHTTPServer(http.NotFoundHandler(), tt.budget)
			if srv.ReadTimeout != 30*time.Second || srv.IdleTimeout != 2*time.Minute || srv.ReadHeaderTimeout == 0 {
				t.Errorf("read %v, idle %v, read header %v; want 30s, 2m and a header timeout",
					srv.ReadTimeout, srv.IdleTimeout, srv.ReadHeaderTimeout)
			}
			if srv.WriteTimeout != tt.wantWrite || srv.WriteTimeout <= tt.budget {
				t.Errorf("WriteTimeout = %v, want %v (longer than the inline budget %v)", srv.WriteTimeout, tt.wantWrite, tt.budget)
			}
		})
	}
}
