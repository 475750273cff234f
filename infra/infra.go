// Package infra holds mailprobe's deployment description: the SAM template
// (template.yaml) and the list of HTTP routes it exposes (routes.txt). Its
// tests check the template; other packages compare their routes (the
// OpenAPI spec, the local server's mux) against Routes.
package infra

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed routes.txt
var routesTxt string

//go:embed template.yaml
var templateYAML []byte

// Route is one HTTP route: a method and an API Gateway path template, whose
// parameters are written {name}.
type Route struct {
	Method string
	Path   string
}

// String returns "METHOD /path".
func (r Route) String() string { return r.Method + " " + r.Path }

// Routes returns every route of the API, in the order of routes.txt.
func Routes() []Route {
	routes, err := parseRoutes(routesTxt)
	if err != nil {
		// routes.txt is embedded and checked by this package's tests,
		// so a parse error is a build defect, not a runtime condition.
		panic(err)
	}
	return routes
}

// Template returns the SAM template's bytes.
func Template() []byte { return append([]byte(nil), templateYAML...) }

// parseRoutes reads "METHOD /path" lines; blank lines and lines starting with
// "#" are skipped.
func parseRoutes(text string) ([]Route, error) {
	var routes []Route
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || !strings.HasPrefix(fields[1], "/") || strings.ToUpper(fields[0]) != fields[0] {
			return nil, fmt.Errorf("routes.txt:%d: want \"METHOD /path\", got %q", i+1, line)
		}
		routes = append(routes, Route{Method: fields[0], Path: fields[1]})
	}
	return routes, nil
}
