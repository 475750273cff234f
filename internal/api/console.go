package api

import (
	"net/http"

	"github.com/mailprobe/mailprobe/internal/console"
)

// newConsole builds the web console (package console) for this API: it
// asks for a secret unless the API is open, and checks lists against the
// API's bulk limits before sending them. The console's own routes need no
// secret: the page holds none, and every call it makes is authenticated
// like any other client's.
func (s *server) newConsole() http.Handler {
	version, _, _ := BuildInfo()
	if s.cfg.Version != "" {
		version = s.cfg.Version
	}
	return console.New(console.Options{
		Open:         s.auth.open,
		MaxAddresses: s.cfg.MaxBulkAddresses,
		MaxBulkBytes: s.cfg.MaxBulkBytes,
		Version:      version,
		NotFound: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			s.writeError(w, http.StatusNotFound, "Not found.")
		}),
	})
}

// muxPatterns returns the net/http patterns of a route. Two console paths
// differ between the two routers: API Gateway's "GET /" matches the root
// only, net/http's every path (so it becomes "/{$}"); and API Gateway
// names the route of /console/ "/console", refusing route paths that end
// in a slash, so net/http is given both.
func muxPatterns(rt Route) []string {
	switch rt.Path {
	case "/":
		return []string{rt.Method + " /{$}"}
	case "/console":
		return []string{rt.Method + " /console", rt.Method + " /console/{$}"}
	}
	return []string{rt.Method + " " + rt.Path}
}
