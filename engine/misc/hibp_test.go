package misc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHIBPBreached(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("hibp-api-key") != "k3y":
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/api/v3/breachedaccount/pwned@example.com":
			w.Write([]byte(`[{"Name":"Adobe"}]`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	tests := []struct {
		key, email string
		want       bool
		wantErr    bool
	}{
		{"k3y", "pwned@example.com", true, false},
		{"k3y", "clean@example.com", false, false},
		{"wrong", "pwned@example.com", false, true},
	}
	for _, tt := range tests {
		got, err := NewHIBP(srv.Client(), srv.URL, tt.key).Breached(context.Background(), tt.email)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Breached(%s, key %s) = %v, %v; want %v, error %v", tt.email, tt.key, got, err, tt.want, tt.wantErr)
		}
	}
}
