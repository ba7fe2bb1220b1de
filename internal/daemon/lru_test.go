package daemon

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
)

// cartOfLines returns the encoding of a cart of lines lines, the first
// priced, made by one replica. Most carts have two.
func cartOfLines(t testing.TB, hlc *crdt.HLC, i, lines int, wall time.Time) []byte {
	c := cart.New()
	for l := range lines {
		if _, err := c.Add(hlc.Now(wall), fmt.Sprintf("sku-%04d", (i+l)%9973), 2); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SetPrice(hlc.Now(wall), fmt.Sprintf("sku-%04d", i%9973), 1299); err != nil {
		t.Fatal(err)
	}
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestObjectCostModel checks that what the cache charges for a cart is
// close to the heap the cart takes in memory, measured for carts that
// arrived from a peer (the most expensive way in: merged into a new cart)
// and then saved. Were the charge far below the heap, --cache-size would
// not bound memory; far above, it would waste it.
func TestObjectCostModel(t *testing.T) {
	for _, lines := range []int{2, 10} {
		t.Run(fmt.Sprintf("%d lines", lines), func(t *testing.T) { testObjectCost(t, lines) })
	}
}

func testObjectCost(t *testing.T, lines int) {
	const n = 10_000
	hlc, err := crdt.NewHLC("r-b0b0b0b0b0b0b0b0")
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Now().Add(-time.Hour)
	states := make([][]byte, n)
	for i := range states {
		states[i] = cartOfLines(t, hlc, i, lines, wall)
	}
	disk := newMemStore()
	self, err := crdt.NewHLC("r-self")
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics()
	cs := newCarts("r-self", newNodeClock(self, 0, time.Hour, m.rejected), m, disk, 1<<40, func(string, bool) {})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i, s := range states {
		if _, err := cs.merge(fmt.Sprintf("cart-%07d", i), s, gossip.MergeInfo{Channel: gossip.ChannelRepair}); err != nil {
			t.Fatal(err)
		}
	}
	b := cs.takeDirty()
	cs.saved(b)
	b = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / n
	_, charged := cs.cacheStats()
	perCart := float64(charged) / n
	t.Logf("per cart: heap %.0f bytes, charged %.0f (encoding %d bytes)", heap, perCart, len(states[0]))
	if perCart < heap*0.7 || perCart > heap*1.5 {
		t.Errorf("the cache charges %.0f bytes per cart for %.0f bytes of heap: fit objectFixedCost and objectCostPerByte again", perCart, heap)
	}
	runtime.KeepAlive(cs)
	runtime.KeepAlive(states)
}
