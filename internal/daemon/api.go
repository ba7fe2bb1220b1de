package daemon

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crdtd/crdtd/client"
)

// maxBodyBytes bounds every request body (docs/http-api.md).
const maxBodyBytes = 64 << 10

func (d *Daemon) newServer() *http.Server {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, h) }

	route("GET /healthz", d.handleHealth)
	route("GET /metrics", promhttp.HandlerFor(d.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP)
	route("GET /v1/carts", d.handleListCarts)
	route("GET /v1/carts/{cart}", d.handleGetCart)
	route("DELETE /v1/carts/{cart}", d.handleClearCart)
	route("POST /v1/carts/{cart}/items", d.handleAddItem)
	route("PUT /v1/carts/{cart}/items/{item}", d.handleSetItem)
	route("DELETE /v1/carts/{cart}/items/{item}", d.handleRemoveItem)
	route("GET /v1/members", d.handleMembers)
	route("GET /v1/status", d.handleStatus)

	if d.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}

	// Known paths with another method get a JSON 405; anything else a JSON
	// 404 (ServeMux's own answers are plain text).
	for _, p := range []string{"/healthz", "/metrics", "/v1/carts", "/v1/carts/{cart}", "/v1/carts/{cart}/items",
		"/v1/carts/{cart}/items/{item}", "/v1/members", "/v1/status"} {
		route(p, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, client.CodeMethodNotAllowed,
				fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
		})
	}
	route("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, client.CodeNotFound, fmt.Sprintf("no route for %s", r.URL.Path))
	})

	return &http.Server{
		Handler:           d.instrument(d.authenticate(mux)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          newStdLogger(d.log),
	}
}

// authenticate requires the bearer token, when one is configured, on every
// route but /healthz. The comparison takes constant time.
func (d *Daemon) authenticate(next http.Handler) http.Handler {
	if d.cfg.APIToken == "" {
		return next
	}
	want := []byte("Bearer " + d.cfg.APIToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crdtd"`)
			writeError(w, http.StatusUnauthorized, client.CodeUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
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
		d.metrics.httpRequests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		d.metrics.httpSeconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, client.CodeInternal, "encode response")
		return
	}
	writeBody(w, code, b)
}

func writeBody(w http.ResponseWriter, code int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	// A known length spares large carts chunked encoding.
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

func writeError(w http.ResponseWriter, code int, c client.ErrorCode, msg string) {
	b, _ := json.Marshal(client.ErrorBody{Error: client.ErrorDetail{Code: c, Message: msg}})
	writeBody(w, code, b)
}

// errBadRequest marks request problems found before any domain logic.
var errBadRequest = errors.New("bad request")

// errTooLarge marks an oversized body.
var errTooLarge = errors.New("request body too large")

// decodeBody reads one JSON object of type T from a bounded body, refusing
// unknown fields and trailing data.
func decodeBody[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return v, fmt.Errorf("%w: limit is %d bytes", errTooLarge, maxBodyBytes)
		case errors.Is(err, io.EOF):
			return v, fmt.Errorf("%w: empty body, want a JSON object", errBadRequest)
		}
		return v, fmt.Errorf("%w: invalid JSON body: %v", errBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return v, fmt.Errorf("%w: limit is %d bytes", errTooLarge, maxBodyBytes)
		}
		return v, fmt.Errorf("%w: trailing data after the JSON object", errBadRequest)
	}
	return v, nil
}

// sanitize makes client-supplied text safe to echo in an error message.
func sanitize(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(strconv.Quote(s), "?")
}
