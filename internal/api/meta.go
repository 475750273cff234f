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

// versionJSON is the /version body: Reacher's {"version"} and the commit.
// It is served without the secret, as Reacher serves it; the Go version is
// left out (`mailprobe version` prints it), so the answer says nothing
// about which standard library fixes the binary lacks.
type versionJSON struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// BuildInfo describes the running binary from the build information the
// Go toolchain embeds: module version, VCS commit ("-dirty" when the tree
// was modified) and Go version. GET /version and `mailprobe version` both
// report it.
func BuildInfo() (version, commit, goVersion string) {
	version, commit, goVersion = "(devel)", "unknown", runtime.Version()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, commit, goVersion
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	goVersion = bi.GoVersion
	dirty := false
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			commit = st.Value
		case "vcs.modified":
			dirty = st.Value == "true"
		}
	}
	if dirty && commit != "unknown" {
		commit += "-dirty"
	}
	return version, commit, goVersion
}

// buildVersion computes the /version body once: BuildInfo, overridden by
// what the wiring passes.
func buildVersion(version, commit string) []byte {
	var v versionJSON
	v.Version, v.Commit, _ = BuildInfo()
	if version != "" {
		v.Version = version
	}
	if commit != "" {
		v.Commit = commit
	}
	b, _ := json.Marshal(v) // two strings always marshal
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
