package infra

import (
	"slices"
	"testing"

	"github.com/mailprobe/mailprobe/internal/api"
)

// TestTemplateRoutesMatchHandler checks that the HttpApi declares exactly
// the routes the API handler serves (minus the local-only ones), so the
// template, the OpenAPI document (tested against api.Routes in internal/api)
// and the handler cannot drift apart.
func TestTemplateRoutesMatchHandler(t *testing.T) {
	var handler []string
	for _, r := range api.Routes() {
		if !r.LocalOnly {
			handler = append(handler, r.Method+" "+r.Path)
		}
	}
	var template []string
	for _, r := range Routes() {
		template = append(template, r.String())
	}
	slices.Sort(handler)
	slices.Sort(template)
	if !slices.Equal(handler, template) {
		t.Errorf("template routes %v\n differ from handler routes %v", template, handler)
	}
}
