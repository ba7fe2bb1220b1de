package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/crdtd/crdtd/api"
)

// BenchmarkDurableWrites measures acknowledged, fsynced add-to-cart writes
// through the HTTP API of one in-process node, with 64 concurrent clients.
func BenchmarkDurableWrites(b *testing.B) {
	d := newTestNode(b, defaultCache)
	c := newTestClient(b, d, "")
	var seq atomic.Int64
	b.SetParallelism(32) // x GOMAXPROCS(2) = 64 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			_, err := c.AddItem(context.Background(), fmt.Sprintf("cart-%d", i%100),
				api.AddItemRequest{Item: fmt.Sprintf("item-%d", i%20), Quantity: 1})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	st := d.store.Stats()
	b.ReportMetric(float64(st.Logged)/float64(max(1, st.LogSyncs)), "writes/fsync")
}

// BenchmarkAddCPU measures the node's CPU per add with the HTTP server and
// client left out: 64 goroutines call the API's handler directly, adding
// one item to a random cart among 1,000, as the wrk runs of
// scripts/bench-vs-redis.sh do. Run it with a fixed -benchtime (say
// 50000x): carts grow with every add, and so does the cost of the next.
func BenchmarkAddCPU(b *testing.B) {
	d := newTestNode(b, defaultCache)
	h := d.server.Handler
	body := []byte(`{"item":"x","quantity":1}`)
	var seq atomic.Int64
	b.SetParallelism(32) // x GOMAXPROCS(2) = 64 writers
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1) * 7919 % 1000
			req, err := http.NewRequest("POST", "/v1/carts/c"+strconv.FormatInt(i, 10)+"/items", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			if w.code != 200 {
				b.Errorf("status %d", w.code)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}

// discardWriter is a ResponseWriter that keeps only the status code.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	w.WriteHeader(200)
	return len(b), nil
}

// defaultCache gives a benchmark's node the default cart cache, where
// tests use a one-byte cache to run every path on carts read from disk.
func defaultCache(c *Config) { c.CacheSize = DefaultCacheSize }
