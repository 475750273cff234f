package api

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"runtime"
	"runtime/debug"
)

// openAPIDoc is the OpenAPI 3.1 description of every route, served as is.
//
// A string, not a []byte, so that no caller can change it.
//
//go:embed openapi.json
var openAPIDoc string

// OpenAPI returns the OpenAPI 3.1 document the API serves.
func OpenAPI() []byte {
	return []byte(openAPIDoc)
}

// healthz serves GET /healthz, unauthenticated, for load balancers and
// `make run` readiness checks. It does not touch the back ends: a slow
// DynamoDB must not make API Gateway or a supervisor kill a healthy process.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// versionJSON is the /version body.
type versionJSON struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

// buildVersion computes the /version body once, from the build information
// embedded by the Go toolchain, overridden by what the wiring passes.
func buildVersion(version, commit string) []byte {
	v := versionJSON{Version: "(devel)", Commit: "unknown", Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		v.Go = bi.GoVersion
		dirty := false
		for _, st := range bi.Settings {
			switch st.Key {
			case "vcs.revision":
				v.Commit = st.Value
			case "vcs.modified":
				dirty = st.Value == "true"
			}
		}
		if dirty && v.Commit != "unknown" {
			v.Commit += "-dirty"
		}
	}
	if version != "" {
		v.Version = version
	}
	if commit != "" {
		v.Commit = commit
	}
	b, _ := json.Marshal(v) // three strings always marshal
	return b
}

// versionInfo serves GET /version.
func (s *server) versionInfo(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, s.version)
}

// openAPI serves GET /openapi.json.
func (s *server) openAPI(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, []byte(openAPIDoc))
}

// metrics serves GET /metrics (local mode) through the metrics registry.
func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	s.deps.MetricsHandler.ServeHTTP(w, r)
}
