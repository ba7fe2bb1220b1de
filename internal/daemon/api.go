package daemon

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/internal/h1"
	"github.com/crdtd/crdtd/web"
)

// allowedMethods lists the methods of every API path, for 405 answers.
// GET also serves HEAD.
var allowedMethods = map[string][]string{
	"/healthz":                      {"GET", "HEAD"},
	"/readyz":                       {"GET", "HEAD"},
	"/metrics":                      {"GET", "HEAD"},
	"/v1/carts":                     {"GET", "HEAD"},
	"/v1/carts/{cart}":              {"GET", "HEAD", "DELETE"},
	"/v1/carts/{cart}/items":        {"POST"},
	"/v1/carts/{cart}/items/{item}": {"GET", "HEAD", "PUT", "DELETE"},
	"/v1/carts/{cart}/sync":         {"POST"},
	"/v1/carts/{cart}/events":       {"GET", "HEAD"},
	"/v1/members":                   {"GET", "HEAD"},
	"/v1/status":                    {"GET", "HEAD"},
	"/v1/activity":                  {"GET", "HEAD"},
}

func (d *Daemon) newServer() *h1.Server {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, h) }

	route("GET /healthz", d.handleHealth)
	route("GET /readyz", d.handleReady)
	route("GET /metrics", promhttp.HandlerFor(d.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP)
	route("GET /v1/carts", d.handleListCarts)
	route("GET /v1/carts/{cart}", d.handleGetCart)
	route("DELETE /v1/carts/{cart}", d.handleClearCart)
	route("POST /v1/carts/{cart}/items", d.handleAddItem)
	route("GET /v1/carts/{cart}/items/{item}", d.handleGetItem)
	route("PUT /v1/carts/{cart}/items/{item}", d.handleSetItem)
	route("DELETE /v1/carts/{cart}/items/{item}", d.handleRemoveItem)
	route("POST /v1/carts/{cart}/sync", d.handleSync)
	route("GET /v1/carts/{cart}/events", d.handleEvents)
	route("GET /v1/members", d.handleMembers)
	route("GET /v1/status", d.handleStatus)
	route("GET /v1/activity", d.handleActivity)

	// The browser app (app.go): open routes that serve no data.
	route("GET /{$}", appPage("index"))
	route("GET /carts/{cart}", appPage("index"))
	route("GET /cluster", appPage("cluster"))
	route("GET /assets/{name}", handleAsset)

	if d.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}

	// Known paths with another method get a JSON 405 with Allow; anything
	// else a JSON 404 (ServeMux's own answers are plain text).
	for p, methods := range allowedMethods {
		allow := strings.Join(methods, ", ")
		route(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed,
				fmt.Sprintf("method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
		})
	}
	route("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no route for %s", r.URL.Path))
	})

	return &h1.Server{
		Handler:           d.instrument(d.authenticate(mux)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       30 * time.Second,
		ConnState:         d.conns.connState,
		MaxHeaderBytes:    16 << 10,
		Logger:            d.log.With("component", "http"),
	}
}

// authenticate requires the bearer token, when one is configured, on every
// route but /healthz, /readyz and the browser app's pages and files, which
// hold no data. The comparison takes constant time.
func (d *Daemon) authenticate(next http.Handler) http.Handler {
	if d.cfg.APIToken == "" {
		return next
	}
	want := []byte(d.cfg.APIToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !web.IsPublic(r.URL.Path) && !bearerMatches(r.Header.Get("Authorization"), want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crdtd"`)
			// Close the connection: a client without the token gets one
			// answer per connection, not a connection to keep.
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerMatches reports whether an Authorization header carries the token
// want in the Bearer scheme, whose name is case-insensitive (RFC 7235). The
// token comparison takes constant time.
func bearerMatches(header string, want []byte) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimLeft(token, " ")), want) == 1
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the wrapped writer, so that an http.ResponseController
// reaches its Flush and deadlines (event streams need them).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// instrument counts requests and their latency by route pattern.
func (d *Daemon) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" || rec.code == http.StatusNotFound || rec.code == http.StatusMethodNotAllowed || rec.code == http.StatusUnauthorized {
			route = "other"
		}
		m := d.metrics.request(route, rec.code)
		m.requests.Inc()
		m.seconds.Observe(time.Since(start).Seconds())
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.CodeInternal, "encode response")
		return
	}
	writeBody(w, code, b)
}

// Header values every JSON answer carries, shared rather than allocated
// per answer. A header value slice is never written in place (Add appends
// to a copy, as their capacity is their length), so sharing them is safe.
var (
	jsonContentType = []string{"application/json"}
	noSniff         = []string{"nosniff"}
	newline         = []byte("\n")
)

func writeBody(w http.ResponseWriter, code int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
	// A known length spares large carts chunked encoding.
	h["Content-Length"] = []string{strconv.Itoa(len(b) + 1)}
	w.WriteHeader(code)
	w.Write(b)
	w.Write(newline)
}

func writeError(w http.ResponseWriter, code int, c api.ErrorCode, msg string) {
	b, _ := json.Marshal(api.ErrorBody{Error: api.ErrorDetail{Code: c, Message: msg}})
	writeBody(w, code, b)
}

// sanitize makes client-supplied text safe to echo in an error message.
func sanitize(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(strconv.Quote(s), "?")
}
