package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// specValidator checks responses against the OpenAPI document the API
// serves: the schema of the response's route, method, status and media
// type, extracted from the document by JSON pointer and compiled with
// jsonschema (draft 2020-12, the dialect of OpenAPI 3.1).
type specValidator struct {
	doc      map[string]any
	compiler *jsonschema.Compiler

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema
}

const specURL = "file:///openapi.json"

func newSpecValidator(t testing.TB) *specValidator {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(OpenAPI()))
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(specURL, inst); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &specValidator{doc: doc, compiler: c, schemas: map[string]*jsonschema.Schema{}}
}

// schema compiles (once) the schema at a JSON pointer of the document.
func (v *specValidator) schema(t testing.TB, pointer string) *jsonschema.Schema {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.schemas[pointer]; ok {
		return s
	}
	s, err := v.compiler.Compile(specURL + "#" + pointer)
	if err != nil {
		t.Fatalf("compile %s: %v", pointer, err)
	}
	v.schemas[pointer] = s
	return s
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// lookup walks the document along a JSON pointer.
func (v *specValidator) lookup(pointer string) (any, bool) {
	var cur any = v.doc
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// template finds the documented path that matches a concrete path.
func (v *specValidator) template(path string) (string, bool) {
	paths := v.doc["paths"].(map[string]any)
	segs := strings.Split(path, "/")
	for tmpl := range paths {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		ok := true
		for i := range ts {
			if ts[i] != segs[i] && !(strings.HasPrefix(ts[i], "{") && segs[i] != "") {
				ok = false
				break
			}
		}
		if ok {
			return tmpl, true
		}
	}
	return "", false
}

// responsePointer returns the pointer of the documented response, following
// a $ref to components/responses.
func (v *specValidator) responsePointer(tmpl, method string, status int) (string, bool) {
	p := "/paths/" + escapePointer(tmpl) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(status)
	r, ok := v.lookup(p)
	if !ok {
		return "", false
	}
	if ref, ok := r.(map[string]any)["$ref"].(string); ok {
		return strings.TrimPrefix(ref, "#"), true
	}
	return p, true
}

// check validates one recorded response of method target.
func (v *specValidator) check(t testing.TB, method, target string, status int, header http.Header, body []byte) {
	t.Helper()
	if header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: response without X-Request-Id", method, target)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("bad target %q", target)
	}
	ptr, documented := "", false
	if tmpl, ok := v.template(u.Path); ok {
		ptr, documented = v.responsePointer(tmpl, method, status)
	}
	if !documented {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d is not documented in openapi.json", method, target, status)
			return
		}
		ptr = "/components/responses/NotFound"
	}
	ct := header.Get("Content-Type")
	media := strings.TrimSpace(strings.Split(ct, ";")[0])
	content, ok := v.lookup(ptr + "/content/" + escapePointer(media))
	if !ok {
		t.Errorf("%s %s: %d with Content-Type %q is not documented", method, target, status, ct)
		return
	}
	if media != "application/json" {
		_ = content // text/csv, text/plain: the media type being documented is the check
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s %s: body is not JSON: %v\n%s", method, target, err, body)
		return
	}
	if err := v.schema(t, ptr+"/content/application~1json/schema").Validate(inst); err != nil {
		t.Errorf("%s %s: %d body does not match openapi.json: %v\nbody: %s", method, target, status, err, body)
	}
}

// TestOpenAPIDocumentsEveryRoute checks the document against Routes(): the
// same paths and methods, nothing more, nothing less.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	v := newSpecValidator(t)
	if got := v.doc["openapi"]; got != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", got)
	}
	var want, got []string
	for _, r := range Routes() {
		want = append(want, r.Method+" "+r.Path)
	}
	for path, item := range v.doc["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			got = append(got, strings.ToUpper(m)+" "+path)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("openapi paths:\n got %v\nwant %v", got, want)
	}
	for _, r := range Routes() {
		op, _ := v.lookup("/paths/" + escapePointer(r.Path) + "/" + strings.ToLower(r.Method))
		sec, hasSec := op.(map[string]any)["security"].([]any)
		if r.Auth != (hasSec && len(sec) > 0) {
			t.Errorf("%s %s: auth %v but security %v", r.Method, r.Path, r.Auth, sec)
		}
		if _, ok := v.responsePointer(r.Path, r.Method, http.StatusOK); !ok {
			t.Errorf("%s %s: no 200 response documented", r.Method, r.Path)
		}
		if r.Auth {
			if _, ok := v.responsePointer(r.Path, r.Method, http.StatusUnauthorized); !ok {
				t.Errorf("%s %s: no 401 response documented", r.Method, r.Path)
			}
		}
		if r.Throttled {
			if _, ok := v.responsePointer(r.Path, r.Method, http.StatusTooManyRequests); !ok {
				t.Errorf("%s %s: no 429 response documented", r.Method, r.Path)
			}
		}
	}
	// Every schema in the document compiles.
	for name := range v.doc["components"].(map[string]any)["schemas"].(map[string]any) {
		v.schema(t, fmt.Sprintf("/components/schemas/%s", name))
	}
}
