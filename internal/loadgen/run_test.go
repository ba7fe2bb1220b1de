package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

// fakeCarts is the state of a fake cluster whose nodes share it: a write on one is seen on all at
// once. Its handlers speak the cart paths of the API the load uses.
type fakeCarts struct {
	mu    sync.Mutex
	carts map[string]map[string]int64 // cart -> item -> quantity

	requests   atomic.Int64
	failAdds   atomic.Bool                  // answer every add with 503
	failClears atomic.Bool                  // answer every clear with 503
	nodes      int                          // nodes started
	clears     map[string]map[int]int       // cart -> node number -> clears received; under mu
	afterClear func(lines map[string]int64) // if set, run under mu after a clear: a write landing late
}

func newFakeCarts() *fakeCarts {
	return &fakeCarts{carts: map[string]map[string]int64{}, clears: map[string]map[int]int{}}
}

// node starts one node of the fake cluster and returns its URL.
func (f *fakeCarts) node(t *testing.T) string {
	t.Helper()
	f.mu.Lock()
	n := f.nodes
	f.nodes++
	f.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/carts/{cart}", f.handle(func(map[string]int64, *http.Request) {}))
	mux.HandleFunc("POST /v1/carts/{cart}/items", f.handle(func(lines map[string]int64, r *http.Request) {
		var req api.AddItemRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		lines[req.Item] += req.Quantity
	}))
	mux.HandleFunc("PUT /v1/carts/{cart}/items/{item}", f.handle(func(lines map[string]int64, r *http.Request) {
		var req api.SetItemRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Quantity != nil {
			lines[r.PathValue("item")] = *req.Quantity
		}
	}))
	mux.HandleFunc("DELETE /v1/carts/{cart}/items/{item}", f.handle(func(lines map[string]int64, r *http.Request) {
		delete(lines, r.PathValue("item"))
	}))
	mux.HandleFunc("DELETE /v1/carts/{cart}", f.handle(func(lines map[string]int64, r *http.Request) {
		clear(lines)
		cart := r.PathValue("cart")
		if f.clears[cart] == nil {
			f.clears[cart] = map[int]int{}
		}
		f.clears[cart][n]++
		if f.afterClear != nil {
			f.afterClear(lines)
		}
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// handle applies op to the cart of the request and answers with the cart's view.
func (f *fakeCarts) handle(op func(map[string]int64, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if r.Method == http.MethodPost && f.failAdds.Load() ||
			r.Method == http.MethodDelete && r.PathValue("item") == "" && f.failClears.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"try later"}}`))
			return
		}
		cart := r.PathValue("cart")
		f.mu.Lock()
		lines := f.carts[cart]
		if lines == nil {
			lines = map[string]int64{}
			f.carts[cart] = lines
		}
		op(lines, r)
		view := api.CartView{Cart: cart, Items: []api.Line{}}
		for _, item := range slices.Sorted(maps.Keys(lines)) {
			view.Items = append(view.Items, api.Line{Item: item, Quantity: lines[item]})
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(view)
	}
}

func TestRun(t *testing.T) {
	f := newFakeCarts()
	nodes := []string{f.node(t), f.node(t)}
	cfg := Config{
		Nodes:              nodes,
		Concurrency:        4,
		Requests:           300,
		ConvergenceSamples: 10,
		Seed:               7,
	}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ops != 300 || rep.Failed != 0 || len(rep.Errors) != 0 || rep.Interrupted {
		t.Errorf("ops %d, failed %d, errors %v, interrupted %v; want 300 operations, none failed",
			rep.Ops, rep.Failed, rep.Errors, rep.Interrupted)
	}
	var byOp int64
	for _, o := range rep.ByOp {
		byOp += o.Ops
	}
	if got, want := rep.OpNames(), []string{"add", "set", "remove", "get"}; !slices.Equal(got, want) || byOp != 300 {
		t.Errorf("by_op %+v: got operations %q adding up to %d, want %q adding up to 300", rep.ByOp, got, byOp, want)
	}
	if c := rep.Convergence; c.Samples != 10 || c.Timeouts != 0 || c.Errors != 0 {
		t.Errorf("convergence %+v: want 10 samples, no timeouts, no errors", c)
	}
	if rep.Concurrency != 4 || rep.Seed != 7 || rep.Mix != "add=70,set=10,remove=10,get=10" || !slices.Equal(rep.Nodes, nodes) {
		t.Errorf("report of the config: concurrency %d, seed %d, mix %q, nodes %q; want 4, 7, the default mix, %q",
			rep.Concurrency, rep.Seed, rep.Mix, rep.Nodes, nodes)
	}
	if rep.Throughput <= 0 || rep.LatencySamples != 300 || rep.Latency.Max < rep.Latency.P99 {
		t.Errorf("implausible figures: throughput %v, %d latency samples, latency %+v", rep.Throughput, rep.LatencySamples, rep.Latency)
	}
	// Each marker went to its own cart, which the workers' carts never share.
	f.mu.Lock()
	defer f.mu.Unlock()
	markers := 0
	for cart, lines := range f.carts {
		if strings.HasPrefix(cart, "bench-conv-") {
			markers += len(lines)
		}
	}
	if markers != 10 {
		t.Errorf("%d markers written, want 10", markers)
	}
}

func TestRunCountsFailures(t *testing.T) {
	f := newFakeCarts()
	f.failAdds.Store(true)
	rep, err := Run(t.Context(), Config{
		Nodes: []string{f.node(t)}, Requests: 50, Concurrency: 2, Retries: -1, Mix: Mix{OpAdd: 50, OpGet: 50},
	})
	if err != nil {
		t.Fatal(err)
	}
	adds := rep.ByOp["add"]
	if adds.Ops == 0 || adds.Failed != adds.Ops || rep.Errors["unavailable"] != adds.Ops || rep.Failed != adds.Ops {
		t.Errorf("adds %+v, failed %d, errors %v: want every add failed as unavailable, nothing else",
			adds, rep.Failed, rep.Errors)
	}
	if _, ok := rep.ByOp["set"]; ok {
		t.Errorf("by_op %+v: want no entry for operations outside the mix", rep.ByOp)
	}
	if c := rep.Convergence; c.Samples+c.Timeouts+c.Errors != 0 {
		t.Errorf("convergence %+v with one node: want nothing measured", c)
	}
	// 1 first read, 50 operations, no retries.
	if got := f.requests.Load(); got != 51 {
		t.Errorf("the node got %d requests, want 51", got)
	}
}

func TestRunUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	_, err = Run(t.Context(), Config{Nodes: []string{addr}, Requests: 10, Retries: -1})
	if !errors.Is(err, client.ErrUnreachable) || !strings.Contains(err.Error(), "node "+addr) {
		t.Errorf("Run against a closed port: got %v, want an error naming the node and wrapping client.ErrUnreachable", err)
	}
}

func TestRunInterrupted(t *testing.T) {
	f := newFakeCarts()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	rep, err := Run(ctx, Config{Nodes: []string{f.node(t)}, Duration: time.Minute, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Ops == 0 || rep.Failed != 0 || time.Since(start) > 30*time.Second {
		t.Errorf("interrupted %v, ops %d, failed %d after %v: want an interrupted run that counts what finished, nothing failed",
			rep.Interrupted, rep.Ops, rep.Failed, time.Since(start))
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	if _, err := Run(t.Context(), Config{Nodes: []string{"http://127.0.0.1:1"}, Concurrency: -1}); err == nil ||
		!strings.Contains(err.Error(), "concurrency") {
		t.Errorf("Run with concurrency -1: got %v, want an error about the concurrency", err)
	}
}

// written returns the carts that hold or held lines, and the number of lines they hold now.
func (f *fakeCarts) written() (carts []string, lines int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for cart, l := range f.carts {
		carts = append(carts, cart)
		lines += len(l)
	}
	return carts, lines
}

func TestRunCleanup(t *testing.T) {
	f := newFakeCarts()
	nodes := []string{f.node(t), f.node(t), f.node(t)}
	rep, err := Run(t.Context(), Config{Nodes: nodes, Concurrency: 4, Requests: 300, Carts: 20, ConvergenceSamples: 10,
		Mix: Mix{OpAdd: 100}, Cleanup: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (CleanupReport{Carts: 20 + 10}); rep.Cleanup != want {
		t.Errorf("cleanup %+v, want %+v: the 20 carts and 10 convergence carts", rep.Cleanup, want)
	}
	carts, lines := f.written()
	if lines != 0 {
		t.Errorf("%d lines left after the cleanup, want none", lines)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, cart := range carts {
		if !strings.HasPrefix(cart, CartPrefix) {
			t.Errorf("the run wrote cart %q, outside %s*", cart, CartPrefix)
		}
		if want := map[int]int{0: 1, 1: 1, 2: 1}; !maps.Equal(f.clears[cart], want) {
			t.Errorf("cart %s cleared %v times by node, want %v: once on each node", cart, f.clears[cart], want)
		}
	}
	if len(carts) != 30 {
		t.Errorf("the run wrote %d carts, want 30", len(carts))
	}
}

// TestRunCleanupInterrupted: an interrupted run, the likeliest to leave carts behind, still
// clears them.
func TestRunCleanupInterrupted(t *testing.T) {
	f := newFakeCarts()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	rep, err := Run(ctx, Config{Nodes: []string{f.node(t)}, Duration: time.Minute, Concurrency: 2, Carts: 5, Cleanup: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, lines := f.written(); !rep.Interrupted || rep.Cleanup != (CleanupReport{Carts: 5}) || lines != 0 {
		t.Errorf("interrupted %v, cleanup %+v, %d lines left; want an interrupted run whose 5 carts were cleared",
			rep.Interrupted, rep.Cleanup, lines)
	}
}

// TestRunCleanupStraggler: a write that lands after its cart's clear (it
// was in flight when the run ended) is cleared too.
func TestRunCleanupStraggler(t *testing.T) {
	f := newFakeCarts()
	node := f.node(t)
	var once sync.Once
	f.afterClear = func(lines map[string]int64) { once.Do(func() { lines["late"] = 1 }) }
	rep, err := Run(t.Context(), Config{Nodes: []string{node}, Requests: 10, Carts: 2, Cleanup: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, lines := f.written(); rep.Cleanup != (CleanupReport{Carts: 2}) || lines != 0 {
		t.Errorf("cleanup %+v, %d lines left; want both carts cleared, the straggler too", rep.Cleanup, lines)
	}
}

func TestRunCleanupFailures(t *testing.T) {
	f := newFakeCarts()
	f.failClears.Store(true)
	rep, err := Run(t.Context(), Config{Nodes: []string{f.node(t), f.node(t)}, Requests: 20, Carts: 3, Retries: -1,
		ConvergenceSamples: -1, Cleanup: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (CleanupReport{Failed: 6}); rep.Cleanup != want {
		t.Errorf("cleanup %+v with every clear refused, want %+v", rep.Cleanup, want)
	}
}

// TestRunWithoutCleanup: by default a run clears nothing, and its JSON report has no cleanup.
func TestRunWithoutCleanup(t *testing.T) {
	f := newFakeCarts()
	rep, err := Run(t.Context(), Config{Nodes: []string{f.node(t)}, Requests: 50, Carts: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.clears) != 0 || strings.Contains(string(b), `"cleanup"`) {
		t.Errorf("clears %v, report %s; want no clears and no cleanup in the report", f.clears, b)
	}
}
