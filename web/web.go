// Package web is the browser app a crdtd node serves: a cart
// app at / and /carts/{cart}, whose own replica of the cart is the cart
// package compiled to WebAssembly, and a cluster page at /cluster. The
// files live in static/ and are embedded, so the crdtd binary alone serves
// the app; static/cart.wasm.gz and static/wasm_exec.js are made by
// go generate ./web and committed, and a test fails when they are stale.
//
// [New] prepares the files once: each asset is served under a name that
// carries a hash of its content (app.3f2a1b9c0d4e.js), with references
// between files rewritten to those names, gzip-compressed, and cached for
// a year; the pages are served under their routes, never cached without
// revalidation, with a strict Content-Security-Policy.
package web

//go:generate go run ./internal/genwasm

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every page and asset: only this
// origin's scripts, styles, images and connections; WebAssembly may be
// compiled, but no inline script or style, eval, plugin or framing.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// files lists the assets in the order they are prepared: a file may refer
// only to files before it, whose hashed names are then known. The service
// worker lists every asset, so it comes last; the pages follow.
var files = []struct{ name, ctype string }{
	{"cart.wasm", "application/wasm"},
	{"wasm_exec.js", "text/javascript; charset=utf-8"},
	{"style.css", "text/css; charset=utf-8"},
	{"favicon.svg", "image/svg+xml"},
	{"api.js", "text/javascript; charset=utf-8"},
	{"store.js", "text/javascript; charset=utf-8"},
	{"app.js", "text/javascript; charset=utf-8"},
	{"cluster.js", "text/javascript; charset=utf-8"},
	{"sw.js", "text/javascript; charset=utf-8"},
}

// pages are the HTML documents, by the name Page takes.
var pages = []string{"index", "cluster"}

// App serves the browser app's pages and assets. It is safe for concurrent
// use.
type App struct {
	assets map[string]*asset // by hashed name
	pages  map[string]*asset // by page name
	names  map[string]string // file name -> hashed name
}

// asset is one file as it is served.
type asset struct {
	ctype string
	gz    []byte // the gzip encoding
	// raw is the content, for clients that do not take gzip; for the
	// WebAssembly, embedded only compressed, it is made on first use.
	raw func() []byte
}

// New prepares the embedded files for serving.
func New() (*App, error) {
	a := &App{assets: map[string]*asset{}, pages: map[string]*asset{}, names: map[string]string{}}
	for _, f := range files {
		var as *asset
		var sum [32]byte
		if f.name == "cart.wasm" {
			gz, err := static.ReadFile("static/cart.wasm.gz")
			if err != nil {
				return nil, fmt.Errorf("web: %v (run go generate ./web)", err)
			}
			as = &asset{ctype: f.ctype, gz: gz, raw: sync.OnceValue(func() []byte { return gunzip(gz) })}
			sum = sha256.Sum256(gz)
		} else {
			b, err := static.ReadFile("static/" + f.name)
			if err != nil {
				return nil, fmt.Errorf("web: %v", err)
			}
			b = a.rewrite(b)
			as = newAsset(f.ctype, b)
			sum = sha256.Sum256(b)
		}
		ext := path.Ext(f.name)
		hashed := strings.TrimSuffix(f.name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		a.names[f.name] = hashed
		a.assets[hashed] = as
	}
	for _, p := range pages {
		b, err := static.ReadFile("static/" + p + ".html")
		if err != nil {
			return nil, fmt.Errorf("web: %v", err)
		}
		a.pages[p] = newAsset("text/html; charset=utf-8", a.rewrite(b))
	}
	return a, nil
}

func newAsset(ctype string, b []byte) *asset {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return &asset{ctype: ctype, gz: buf.Bytes(), raw: func() []byte { return b }}
}

func gunzip(gz []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		panic(fmt.Sprintf("web: embedded gzip: %v", err)) // checked by the tests
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		panic(fmt.Sprintf("web: embedded gzip: %v", err))
	}
	return b
}

// rewrite replaces the references to files already prepared, written
// "./name" (between modules) or "/assets/name" (from pages), with their
// hashed names.
func (a *App) rewrite(b []byte) []byte {
	for name, hashed := range a.names {
		b = bytes.ReplaceAll(b, []byte(`"./`+name+`"`), []byte(`"./`+hashed+`"`))
		b = bytes.ReplaceAll(b, []byte(`"/assets/`+name+`"`), []byte(`"/assets/`+hashed+`"`))
	}
	return b
}

// AssetName returns the hashed name under which file (such as "app.js"
// or "cart.wasm") is served below /assets/, and whether there is one.
func (a *App) AssetName(file string) (string, bool) {
	n, ok := a.names[file]
	return n, ok
}

// Page returns the handler of the named page ("index" or "cluster"). It
// serves the same bytes for every path it is routed: the page reads its
// location to tell which cart to open.
func (a *App) Page(name string) http.Handler {
	p := a.pages[name]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		serve(w, r, p)
	})
}

// ServeAsset serves GET /assets/{name}: a hashed name is cached for a
// year, since its content never changes; any other name is not found.
func (a *App) ServeAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	as := a.assets[name]
	if as == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "no such asset\n")
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if strings.HasPrefix(name, "sw.") {
		// The service worker lives below /assets/ but serves the whole
		// app: the pages register it with scope /.
		h.Set("Service-Worker-Allowed", "/")
	}
	serve(w, r, as)
}

func serve(w http.ResponseWriter, r *http.Request, as *asset) {
	h := w.Header()
	h.Set("Content-Type", as.ctype)
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Vary", "Accept-Encoding")
	body := as.gz
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
	} else {
		body = as.raw()
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (and does not refuse it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// IsPublic reports whether path is one of the app's routes, which are
// served without the API token: they hold no data (the page asks for the
// token before it calls the API).
func IsPublic(path string) bool {
	switch {
	case path == "/", path == "/cluster":
		return true
	case strings.HasPrefix(path, "/assets/"):
		return !strings.Contains(path[len("/assets/"):], "/")
	case strings.HasPrefix(path, "/carts/"):
		rest := path[len("/carts/"):]
		return rest != "" && !strings.Contains(rest, "/")
	}
	return false
}
