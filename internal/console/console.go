// Package console serves mailprobe's web console: one HTML page, rendered
// on the server with what it needs to know about the API (whether a secret
// is required, the bulk limits), and the scripts, stylesheet and icon it
// loads, all embedded in the binary. There is no build step: the scripts
// are plain ES modules. The page calls the API with fetch on its own
// origin and fetches nothing from anywhere else; its Content-Security-Policy
// says so to the browser.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// page is the HTML template of the console.
//
//go:embed page.html
var page string

// static holds the files the page loads, served under AssetPrefix.
//
//go:embed static
var static embed.FS

// AssetPrefix is the path under which each file of static/ is served.
// The page itself answers "/", "/console/" and "/console" (how API Gateway
// names the route of /console/: it refuses route paths that end in a
// slash).
const AssetPrefix = "/console/"

// ContentSecurityPolicy is sent with every response of the console. Scripts,
// styles, images and fetches come from this origin only; there is no inline
// script or style (so no 'unsafe-inline' and no nonce), no form posts
// elsewhere, no <base>, no framing; and Trusted Types with no policy make
// every string-to-HTML sink (innerHTML, document.write, eval) throw, so the
// scripts build the DOM from text nodes only. Downloads leave by
// navigation (a link to the export URL), which no fetch directive governs.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// Options describe the API the page talks to.
type Options struct {
	// Open says the API runs without x-reacher-secret: the page then asks
	// for none (it still asks if the API answers 401).
	Open bool
	// MaxAddresses and MaxBulkBytes are the API's limits on one bulk job;
	// the page checks a list against them before sending it.
	MaxAddresses int
	MaxBulkBytes int64
	// Version is shown in the page's footer.
	Version string
	// NotFound answers paths under AssetPrefix that name no file; nil
	// answers a plain 404.
	NotFound http.Handler
}

// Handler serves the console. It is safe for concurrent use.
type Handler struct {
	page     file
	assets   map[string]file
	notFound http.Handler
}

// file is one response body, ready to send.
type file struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

// contentTypes lists the kinds of file static/ may hold.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

// New renders the page for o and loads the embedded files. It panics if
// the embedded template or files are malformed, which the package's tests
// rule out.
func New(o Options) *Handler {
	h := &Handler{assets: map[string]file{}, notFound: o.NotFound}
	if h.notFound == nil {
		h.notFound = http.NotFoundHandler()
	}
	body, err := render(o)
	if err != nil {
		panic(err)
	}
	h.page = newFile("index.html", "text/html; charset=utf-8", body)
	err = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("console: no content type for %s", p)
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		h.assets[name] = newFile(name, ct, b)
		return nil
	})
	if err != nil {
		panic(err)
	}
	return h
}

// pageData is what the template sees.
type pageData struct {
	Auth         string // "open" or "secret"
	MaxAddresses int
	MaxBulkBytes int64
	Version      string
	Prefix       string
}

func render(o Options) ([]byte, error) {
	t, err := template.New("page").Parse(page)
	if err != nil {
		return nil, fmt.Errorf("console: parse page: %w", err)
	}
	d := pageData{Auth: "secret", MaxAddresses: o.MaxAddresses, MaxBulkBytes: o.MaxBulkBytes,
		Version: o.Version, Prefix: AssetPrefix}
	if o.Open {
		d.Auth = "open"
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("console: render page: %w", err)
	}
	return b.Bytes(), nil
}

func newFile(name, contentType string, body []byte) file {
	sum := sha256.Sum256(body)
	return file{name: name, body: body, contentType: contentType,
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}

// ServeHTTP answers GET and HEAD for the page and the files.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h.lookup(r.URL.Path)
	if !ok {
		h.notFound.ServeHTTP(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	// Revalidated on every load (a 304 when unchanged), so a new binary's
	// page never runs with an old binary's scripts.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}

func (h *Handler) lookup(p string) (file, bool) {
	switch p {
	case "/", "/console", "/console/":
		return h.page, true
	}
	name, ok := strings.CutPrefix(p, AssetPrefix)
	if !ok {
		return file{}, false
	}
	f, ok := h.assets[name]
	return f, ok
}
