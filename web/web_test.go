package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/web"
	"github.com/crdtd/crdtd/web/internal/wasmbuild"
)

// TestEmbeddedWasmIsFresh rebuilds the WebAssembly cart and wasm_exec.js
// the way go generate ./web does and compares them with the embedded
// ones: a change to cart, crdt or the wasm entry that was not regenerated
// fails here, not in a browser.
func TestEmbeddedWasmIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly cart; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const fix = "run go generate ./web and commit web/static"
	want, err := wasmbuild.Build(ctx, ".")
	if err != nil {
		t.Fatal(err)
	}
	gz, err := os.ReadFile("static/cart.wasm.gz")
	if err != nil {
		t.Fatalf("%v: %s", err, fix)
	}
	got := gunzip(t, gz)
	if !bytes.Equal(got, want) {
		t.Errorf("static/cart.wasm.gz holds %d bytes of WebAssembly that differ from a fresh build (%d bytes, %s): %s",
			len(got), len(want), wasmbuild.GoVersion(ctx), fix)
	}
	js, err := wasmbuild.ExecJS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if embedded, err := os.ReadFile("static/wasm_exec.js"); err != nil || !bytes.Equal(embedded, js) {
		t.Errorf("static/wasm_exec.js differs from the toolchain's (%s): %s", wasmbuild.GoVersion(ctx), fix)
	}
	t.Logf("cart.wasm: %d bytes, %d gzipped", len(want), len(gz))
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newApp(t *testing.T) (*web.App, *http.ServeMux) {
	t.Helper()
	app, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", app.Page("index"))
	mux.Handle("GET /cluster", app.Page("cluster"))
	mux.HandleFunc("GET /assets/{name}", app.ServeAsset)
	return app, mux
}

func get(mux http.Handler, path, acceptEncoding string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if acceptEncoding != "" {
		r.Header.Set("Accept-Encoding", acceptEncoding)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

// TestPagesReferOnlyToHashedAssets checks that every file a page or module
// names is served under a content-hashed name, cached for a year, and
// that the pages are revalidated and carry the CSP.
func TestPagesReferOnlyToHashedAssets(t *testing.T) {
	app, mux := newApp(t)
	ref := regexp.MustCompile(`"(?:/assets/|\./)([A-Za-z0-9_-]+(?:\.[0-9a-f]{12})?\.(?:js|css|svg|wasm))"`)
	hashed := regexp.MustCompile(`\.[0-9a-f]{12}\.[a-z]+$`)
	seen := map[string]bool{}
	queue := []string{"/", "/cluster"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		w := get(mux, path, "")
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", path, w.Code)
		}
		h := w.Result().Header
		if got := h.Get("Content-Security-Policy"); got != web.CSP {
			t.Errorf("GET %s: CSP %q", path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
		wantCache := "public, max-age=31536000, immutable"
		if !strings.HasPrefix(path, "/assets/") {
			wantCache = "no-cache"
		}
		if got := h.Get("Cache-Control"); got != wantCache {
			t.Errorf("GET %s: Cache-Control %q, want %q", path, got, wantCache)
		}
		for _, m := range ref.FindAllStringSubmatch(w.Body.String(), -1) {
			name := m[1]
			if !hashed.MatchString(name) {
				t.Errorf("%s refers to %q, not a hashed name", path, name)
				continue
			}
			if !seen[name] {
				seen[name] = true
				queue = append(queue, "/assets/"+name)
			}
		}
	}
	for _, f := range []string{"app.js", "api.js", "store.js", "cluster.js", "sw.js", "wasm_exec.js", "cart.wasm", "style.css", "favicon.svg"} {
		name, ok := app.AssetName(f)
		if !ok || !seen[name] {
			t.Errorf("%s (%s) is not reachable from the pages", f, name)
		}
	}
	if w := get(mux, "/assets/app.js", ""); w.Code != 404 {
		t.Errorf("GET /assets/app.js (unhashed): %d, want 404", w.Code)
	}
}

// TestAssetsAreServedCompressed checks gzip for clients that take it and
// the plain bytes for those that do not, the wasm included.
func TestAssetsAreServedCompressed(t *testing.T) {
	app, mux := newApp(t)
	name, _ := app.AssetName("cart.wasm")
	gz := get(mux, "/assets/"+name, "gzip, deflate, br")
	if gz.Code != 200 || gz.Header().Get("Content-Encoding") != "gzip" || gz.Header().Get("Content-Type") != "application/wasm" {
		t.Fatalf("wasm with gzip: %d %v", gz.Code, gz.Header())
	}
	plain := get(mux, "/assets/"+name, "")
	if plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("wasm without gzip is encoded %q", plain.Header().Get("Content-Encoding"))
	}
	if !bytes.Equal(gunzip(t, gz.Body.Bytes()), plain.Body.Bytes()) || !bytes.HasPrefix(plain.Body.Bytes(), []byte("\x00asm")) {
		t.Fatal("the gzipped and plain wasm differ, or the plain one is not WebAssembly")
	}
	if refused := get(mux, "/", "gzip;q=0"); refused.Header().Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
	sw, _ := app.AssetName("sw.js")
	if got := get(mux, "/assets/"+sw, "").Header().Get("Service-Worker-Allowed"); got != "/" {
		t.Errorf("service worker: Service-Worker-Allowed %q, want /", got)
	}
	t.Logf("cart.wasm: %d bytes, %d gzipped", plain.Body.Len(), gz.Body.Len())
}

// TestPagesHaveNoInlineScriptOrStyle keeps the pages within the CSP: no
// inline script, style attribute or event handler attribute.
func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	_, mux := newApp(t)
	bad := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=`)
	for _, p := range []string{"/", "/cluster"} {
		if m := bad.FindString(get(mux, p, "").Body.String()); m != "" {
			t.Errorf("%s has inline code or style: %q", p, m)
		}
	}
}

func TestIsPublic(t *testing.T) {
	for path, want := range map[string]bool{
		"/": true, "/cluster": true, "/carts/alice": true, "/assets/app.0123456789ab.js": true,
		"/carts/": false, "/carts/a/b": false, "/assets/a/b": false, "/v1/carts": false,
		"/v1/carts/alice": false, "/metrics": false, "/cluster/x": false, "/v1/status": false,
	} {
		if got := web.IsPublic(path); got != want {
			t.Errorf("IsPublic(%q) = %v, want %v", path, got, want)
		}
	}
}
