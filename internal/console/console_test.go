package console

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func get(t *testing.T, h http.Handler, method, path string, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServes(t *testing.T) {
	h := New(Options{MaxAddresses: 100, MaxBulkBytes: 1 << 20, Version: "v1.2.3"})
	tests := []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/console/main.js"></script>`},
		{"/console", "text/html; charset=utf-8", `data-auth="secret"`},
		{"/console/", "text/html; charset=utf-8", `mailprobe v1.2.3`},
		{"/console/main.js", "text/javascript; charset=utf-8", `import { Api, describe } from './api.js';`},
		{"/console/console.css", "text/css; charset=utf-8", `.badge-safe`},
		{"/console/icon.svg", "image/svg+xml", `<svg`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := get(t, h, "GET", tt.path, nil)
			if w.Code != 200 || !strings.Contains(w.Body.String(), tt.contains) {
				t.Fatalf("%d, body lacks %q:\n%.300s", w.Code, tt.contains, w.Body)
			}
			want := map[string]string{
				"Content-Type":            tt.ctype,
				"Content-Security-Policy": ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-cache",
			}
			for k, v := range want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			etag := w.Header().Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			again := get(t, h, "GET", tt.path, http.Header{"If-None-Match": {etag}})
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("If-None-Match: %d with %d bytes, want 304 and none", again.Code, again.Body.Len())
			}
			head := get(t, h, "HEAD", tt.path, nil)
			if head.Code != 200 || head.Body.Len() != 0 {
				t.Errorf("HEAD: %d with %d bytes", head.Code, head.Body.Len())
			}
		})
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	called := 0
	h := New(Options{NotFound: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		called++
		w.WriteHeader(http.StatusTeapot)
	})})
	for _, p := range []string{"/console/nope.js", "/console/static/main.js", "/console/main.js/", "/other"} {
		if w := get(t, h, "GET", p, nil); w.Code != http.StatusTeapot {
			t.Errorf("GET %s: %d, want the NotFound handler", p, w.Code)
		}
	}
	if called != 4 {
		t.Errorf("NotFound called %d times, want 4", called)
	}
	if w := get(t, h, "POST", "/", nil); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// TestRenderedSettings: the page carries the API's mode and limits, HTML
// escaped, for the scripts to read.
func TestRenderedSettings(t *testing.T) {
	tests := []struct {
		o    Options
		want []string
	}{
		{Options{Open: true, MaxAddresses: 7, MaxBulkBytes: 99}, []string{`data-auth="open"`, `data-max-addresses="7"`, `data-max-bulk-bytes="99"`, "Open server"}},
		{Options{Version: `<b>"x"`}, []string{`data-auth="secret"`, `mailprobe &lt;b&gt;&#34;x&#34;`, "needs its secret"}},
	}
	for _, tt := range tests {
		body := get(t, New(tt.o), "GET", "/", nil).Body.String()
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%+v: page lacks %s", tt.o, w)
			}
		}
	}
}

// TestPageIsStrict walks the page: no inline script, style or event
// handler (the CSP would block them), nothing from another origin, every
// referenced file embedded, every form control labelled.
func TestPageIsStrict(t *testing.T) {
	h := New(Options{})
	doc, err := html.Parse(bytes.NewReader(h.page.body))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	labelled := map[string]bool{}
	var controls []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
				if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
					t.Errorf("<%s %s=...>: inline handlers and styles are refused by the CSP", n.Data, a.Key)
				}
			}
			switch n.Data {
			case "style":
				t.Error("<style> element: the CSP refuses inline styles")
			case "script":
				if attrs["src"] == "" {
					t.Error("inline <script>: the CSP refuses it")
				}
			case "label":
				labelled[attrs["for"]] = true
			case "input", "select", "textarea":
				if attrs["type"] != "hidden" {
					controls = append(controls, attrs["id"])
				}
			}
			if id := attrs["id"]; id != "" {
				if ids[id] {
					t.Errorf("duplicate id %q", id)
				}
				ids[id] = true
			}
			for _, k := range []string{"src", "href"} {
				checkRef(t, h, attrs[k])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, c := range controls {
		if c == "" || !labelled[c] {
			t.Errorf("form control %q has no <label for>", c)
		}
	}
	// Every id the scripts look up exists.
	lookup := regexp.MustCompile(`\$\('([a-z-]+)'\)`)
	for name, f := range h.assets {
		for _, m := range lookup.FindAllStringSubmatch(string(f.body), -1) {
			if !ids[m[1]] {
				t.Errorf("%s looks up #%s, which the page lacks", name, m[1])
			}
		}
	}
}

func checkRef(t *testing.T, h *Handler, ref string) {
	t.Helper()
	switch {
	case ref == "", strings.HasPrefix(ref, "#"):
	case strings.HasPrefix(ref, AssetPrefix):
		if _, ok := h.assets[strings.TrimPrefix(ref, AssetPrefix)]; !ok {
			t.Errorf("page references %s, which is not embedded", ref)
		}
	default:
		t.Errorf("page references %q: only the console's own files", ref)
	}
}

// TestScriptsAreStrict reads the scripts and the stylesheet: no HTML
// parsing sinks (Trusted Types would throw), no eval, no URL of another
// origin, and every module import names an embedded file.
func TestScriptsAreStrict(t *testing.T) {
	h := New(Options{})
	forbidden := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('style'|\.cssText|@import`)
	url := regexp.MustCompile(`(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	imp := regexp.MustCompile(`from '\./([a-z]+\.js)'`)
	if len(h.assets) < 5 {
		t.Fatalf("only %d files embedded", len(h.assets))
	}
	for name, f := range h.assets {
		src := string(f.body)
		if m := forbidden.FindString(src); m != "" {
			t.Errorf("%s uses %s", name, m)
		}
		for _, u := range url.FindAllString(src, -1) {
			if u != "http://www.w3.org" { // the SVG namespace name, never fetched
				t.Errorf("%s names another origin: %s", name, u)
			}
		}
		for _, m := range imp.FindAllStringSubmatch(src, -1) {
			if _, ok := h.assets[m[1]]; !ok {
				t.Errorf("%s imports %s, which is not embedded", name, m[1])
			}
		}
	}
	// Every file of static/ is served.
	names, _ := fs.Glob(static, "static/*")
	if len(names) != len(h.assets) {
		t.Errorf("static has %d files, served %d", len(names), len(h.assets))
	}
}
