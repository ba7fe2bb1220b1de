package daemon

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/crdtd/crdtd/api"
)

// BenchmarkDurableWrites measures acknowledged, fsynced add-to-cart writes
// through the HTTP API of one in-process node, with 64 concurrent clients.
func BenchmarkDurableWrites(b *testing.B) {
	d := newTestNode(b, nil)
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
