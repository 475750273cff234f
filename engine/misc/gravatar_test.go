package misc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGravatarLookup(t *testing.T) {
	// md5("someone@example.com")
	const known = "/avatar/16d113840f999444259f73bac9ab8b10"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Get("d") != "404":
			w.WriteHeader(http.StatusBadRequest)
		case r.URL.Path == known:
			w.Write([]byte("png"))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	g := NewGravatar(srv.Client(), srv.URL+"/")
	url, ok, err := g.Lookup(context.Background(), "  SomeOne@Example.com ")
	if err != nil || !ok || url != srv.URL+known {
		t.Errorf("Lookup(known) = %q, %v, %v; want %s", url, ok, err, srv.URL+known)
	}
	url, ok, err = g.Lookup(context.Background(), "nobody@example.com")
	if err != nil || ok || url != "" {
		t.Errorf("Lookup(unknown) = %q, %v, %v; want no image", url, ok, err)
	}
}
