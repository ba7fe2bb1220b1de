package daemon

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
	"github.com/stretchr/testify/require"
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

// TestLRUList: the recency list keeps objects most recent first, moves a
// touched one to the front (an unlinked one stays out), and sums the costs
// of the objects in it through pushes, recharges and removals.
func TestLRUList(t *testing.T) {
	var l lruList
	l.init()
	order := func() []string {
		var ids []string
		for o := l.root.next; o != &l.root; o = o.next {
			ids = append(ids, o.id)
		}
		return ids
	}
	a, b, c, out := &object{id: "a", cost: 10}, &object{id: "b", cost: 20}, &object{id: "c", cost: 40}, &object{id: "out", cost: 80}
	for _, o := range []*object{a, b, c} {
		l.pushFront(o)
	}
	require.Equal(t, []string{"c", "b", "a"}, order())
	require.Equal(t, int64(70), l.bytes)
	require.Equal(t, 3, l.n)

	l.touch(a)
	require.Equal(t, []string{"a", "c", "b"}, order())
	l.touch(a) // already first
	require.Equal(t, []string{"a", "c", "b"}, order())
	l.touch(b)
	require.Equal(t, []string{"b", "a", "c"}, order())
	l.touch(out) // not in the list
	require.Equal(t, []string{"b", "a", "c"}, order())

	l.recharge(a, 15)
	l.recharge(out, 5) // not in the list: its cost is not counted
	require.Equal(t, int64(75), l.bytes)

	l.remove(c)
	l.remove(c) // twice: no effect
	l.remove(out)
	require.Equal(t, []string{"b", "a"}, order())
	require.Equal(t, int64(35), l.bytes)
	require.Equal(t, 2, l.n)
}

// TestMayLeave: a cart may leave memory when no writer holds it and the
// data file has all of it (or it holds nothing).
func TestMayLeave(t *testing.T) {
	for _, tc := range []struct {
		pins           int
		changes, saved uint64
		held, want     bool
	}{
		{0, 3, 3, true, true},   // saved
		{0, 4, 3, true, false},  // changed since its last write
		{0, 4, 3, false, true},  // holds nothing to lose
		{1, 3, 3, true, false},  // a writer holds it
		{1, 4, 3, false, false}, // a writer holds it
	} {
		o := &object{pins: tc.pins, changes: tc.changes, saved: tc.saved, held: tc.held}
		require.Equal(t, tc.want, o.mayLeave(), "%+v", tc)
	}
}

// TestEvictBounds: eviction stops once the cache is within its budget (at
// it exactly), and passes over at most maxEvictScan carts that must stay.
func TestEvictBounds(t *testing.T) {
	table := func() (*carts, func(id string, mayLeave bool)) {
		cs := newModelCarts(t, newMemStore(), 0)
		return cs, func(id string, mayLeave bool) { // pushed after the ones before: more recent
			o := &object{id: id, cost: 10, held: true, changes: 1}
			if mayLeave {
				o.saved = 1
			}
			cs.all[id] = o
			cs.lru.pushFront(o)
		}
	}
	evict := func(cs *carts, budget int64) {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		cs.budget = budget
		cs.evictLocked()
	}

	cs, add := table()
	add("old", true)
	add("new", true)
	evict(cs, 10)
	require.NotContains(t, cs.all, "old", "the least recent cart goes first")
	require.Contains(t, cs.all, "new", "a cache exactly at its budget evicts no more")

	cs, add = table()
	for i := range maxEvictScan {
		add(fmt.Sprintf("dirty-%d", i), false)
	}
	add("beyond", true)
	evict(cs, 0)
	require.Contains(t, cs.all, "beyond", "past maxEvictScan carts that must stay, eviction stops")
	require.Equal(t, maxEvictScan+1, cs.lru.n)
}
