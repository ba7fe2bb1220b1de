package daemon

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/store"
)

// memStore is an in-memory data file for the cart table: objects and
// their index entries, with the counts the real store keeps.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	index   map[string]store.Entry
}

func newMemStore() *memStore {
	return &memStore{objects: map[string][]byte{}, index: map[string]store.Entry{}}
}

func (m *memStore) Get(key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.objects[key]
	return slices.Clone(v), ok, nil
}

func (m *memStore) ListedAfter(prefix, after string, limit int) ([]string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k, e := range m.index {
		if e.Listed && strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > limit {
		return keys[:limit], true, nil
	}
	return keys, false, nil
}

func (m *memStore) Counts() store.Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	var c store.Counts
	for _, e := range m.index {
		c.Entries++
		if e.Listed {
			c.Listed++
		}
	}
	return c
}

func (m *memStore) Entries(fn func(string, store.Entry) bool) error {
	m.mu.Lock()
	index := maps.Clone(m.index)
	m.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(index)) {
		if !fn(k, index[k]) {
			break
		}
	}
	return nil
}

func (m *memStore) commit(b *persistBatch) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range b.objects {
		m.objects[k] = slices.Clone(v)
		m.index[k] = b.index[k]
	}
}

// newModelCarts returns a cart table of replica r-self over disk with a
// cache of budget bytes, for tests of the table alone.
func newModelCarts(t interface{ Fatal(args ...any) }, disk *memStore, budget int64) *carts {
	hlc, err := crdt.NewHLC("r-self")
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics()
	clock := newNodeClock(hlc, 0, time.Hour, m.rejected)
	return newCarts("r-self", clock, m, disk, budget, func(string, bool) {})
}

// TestCartTableMatchesModel drives the cart table, with a cache small
// enough that carts keep leaving memory, through local writes, merges of
// a peer's changes, writes to the data file that succeed or fail, and
// crashes (a new table on the data file, with the logged local writes
// replayed), and a peer's change arriving while a local write is in the
// log, and checks after every step that each cart reads as the merge
// of every change it was given, and that the counts and the pages of
// listed carts agree with the carts. A table that let a changed cart leave
// memory before it was saved, or read a stale copy back, fails here.
func TestCartTableMatchesModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		disk := newMemStore()
		budget := rapid.SampledFrom([]int64{1, 2_000, 1 << 30}).Draw(rt, "budget")
		cs := newModelCarts(rt, disk, budget)
		ids := []string{"a", "b", "c", "d", "e"}
		items := []string{"x", "y", "z"}
		model := map[string]*cart.Cart{} // every change given, merged
		var logged []store.Record        // local writes since the last checkpoint
		peer, err := crdt.NewHLC("r-peer")
		if err != nil {
			rt.Fatal(err)
		}
		peerCarts := map[string]*cart.Cart{}
		wall := time.Now()

		modelOf := func(id string) *cart.Cart {
			if model[id] == nil {
				model[id] = cart.New()
			}
			return model[id]
		}
		// local runs a local write as applyLocal does; inLog, if not nil,
		// runs while the write would be in the log, between edit and
		// install.
		local := func(id string, e edit, inLog func()) {
			o, err := cs.lockForWrite(id)
			if err != nil {
				rt.Fatal(err)
			}
			defer cs.unlockWrite(o)
			delta, _, ed, err := cs.edit(o, "", cs.clock.stamp(), e)
			if err != nil {
				rt.Fatal(err)
			}
			if delta.IsEmpty() {
				cs.dropIfEmpty(o)
				return
			}
			b, err := delta.MarshalBinary()
			if err != nil {
				rt.Fatal(err)
			}
			logged = append(logged, store.Record{Key: cartKey(id), Delta: b})
			if inLog != nil {
				inLog()
			}
			cs.install(o, delta, ed)
			modelOf(id).Merge(delta)
		}
		// peerChange merges a peer's change to cart id, sent as its whole
		// cart or as a delta.
		peerChange := func(id, item string, whole bool) {
			pc := peerCarts[id]
			if pc == nil {
				pc = cart.New()
				peerCarts[id] = pc
			}
			wall = wall.Add(time.Millisecond)
			var delta *cart.Cart
			if rapid.Bool().Draw(rt, "peer removes") {
				delta, err = pc.Remove(item)
			} else {
				delta, err = pc.Add(peer.Now(wall), item, 2)
			}
			if err != nil {
				rt.Fatal(err)
			}
			send := delta
			if whole {
				send = pc.Clone()
			}
			b, err := send.MarshalBinary()
			if err != nil {
				rt.Fatal(err)
			}
			if _, err := cs.merge(id, b, gossip.MergeInfo{Channel: gossip.ChannelRepair}); err != nil {
				rt.Fatal(err)
			}
			modelOf(id).Merge(send)
		}

		for range rapid.IntRange(1, 60).Draw(rt, "steps") {
			id := rapid.SampledFrom(ids).Draw(rt, "cart")
			item := rapid.SampledFrom(items).Draw(rt, "item")
			switch op := rapid.IntRange(0, 10).Draw(rt, "op"); op {
			case 0, 1, 2:
				local(id, func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error) { return c.Add(ts, item, 1) }, nil)
			case 3:
				local(id, func(c *cart.Cart, _ crdt.Timestamp) (*cart.Cart, error) { return c.Remove(item) }, nil)
			case 4, 5:
				peerChange(id, item, op == 5)
			case 10:
				// A peer's change arrives while a local write is in the
				// log: install must keep both.
				other := rapid.SampledFrom(items).Draw(rt, "peer item")
				local(id, func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error) { return c.Add(ts, item, 1) },
					func() { peerChange(id, other, rapid.Bool().Draw(rt, "whole")) })
			case 6, 7:
				// Write changed carts to the data file; a checkpoint also
				// drops the log, a failed write keeps them changed.
				b := cs.takeDirty()
				switch rapid.IntRange(0, 2).Draw(rt, "write") {
				case 0:
					cs.markDirty(b)
				case 1:
					disk.commit(b)
					cs.saved(b)
				case 2:
					disk.commit(b)
					cs.saved(b)
					if !cs.hasDirty() {
						logged = nil
					}
				}
			case 8:
				// A crash: what was in memory only is gone. The new table
				// replays the log into the data file's carts; merges from
				// the peer that were not written are lost (anti-entropy
				// brings them back), acknowledged local writes never.
				cs = newModelCarts(rt, disk, budget)
				for _, r := range logged {
					if err := cs.replay(r.Key, r.Delta); err != nil {
						rt.Fatal(err)
					}
				}
				for cid, m := range model {
					got := recovered(rt, cs, cid)
					for _, r := range logged {
						if r.Key != cartKey(cid) {
							continue
						}
						d := cart.New()
						if err := d.UnmarshalBinary(r.Delta); err != nil {
							rt.Fatal(err)
						}
						if got.Clone().Merge(d) {
							rt.Fatalf("cart %s lost an acknowledged local write in the crash", cid)
						}
					}
					if m.Clone().Merge(got) {
						rt.Fatalf("cart %s holds changes after the crash it was never given", cid)
					}
					model[cid] = got
				}
			case 9:
				// Reads only: they load carts and trim the cache.
				if _, err := cs.view(id); err != nil {
					rt.Fatal(err)
				}
			}
			checkTable(rt, cs, model, ids)
		}
	})
}

// recovered returns the cart id as the table holds it now.
func recovered(t *rapid.T, cs *carts, id string) *cart.Cart {
	var c *cart.Cart
	if err := cs.locked(id, false, func(o *object) {
		if o != nil {
			c = o.cart.Clone()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if c == nil {
		c = cart.New()
	}
	return c
}

// checkTable compares every cart, the counts and the listed pages with
// the model, and checks the cache holds only what may not leave or fits.
func checkTable(t *rapid.T, cs *carts, model map[string]*cart.Cart, ids []string) {
	var wantListed []string
	held := 0
	for _, id := range ids {
		m := model[id]
		if m == nil {
			m = cart.New()
		}
		got, err := cs.view(id)
		if err != nil {
			t.Fatal(err)
		}
		if want := m.View(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("cart %s reads %v, want %v", id, got, want)
		}
		if m.HasItems() {
			wantListed = append(wantListed, id)
		}
		if !m.IsEmpty() {
			held++
		}
	}
	withItems, gotHeld := cs.counts()
	if withItems != len(wantListed) || gotHeld != held {
		t.Fatalf("counts %d listed, %d held; want %d, %d", withItems, gotHeld, len(wantListed), held)
	}
	var paged []string
	after := ""
	for {
		page, more, err := cs.page(after, 2)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
		if !more || len(page) == 0 {
			break
		}
		if len(page) != 2 {
			t.Fatalf("a page of %d carts (%q) before the last, want 2: a cart removed since the checkpoint took a place", len(page), page)
		}
		after = page[len(page)-1]
	}
	if !slices.Equal(paged, wantListed) {
		t.Fatalf("pages %q, want %q", paged, wantListed)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for o := cs.lru.root.next; o != &cs.lru.root; o = o.next {
		if cs.all[o.id] != o {
			t.Fatalf("cart %s in the recency list but not in the table", o.id)
		}
		if o.pins != 0 {
			t.Fatalf("cart %s holds %d pins with nothing using it", o.id, o.pins)
		}
	}
	if cs.lru.n != len(cs.all) {
		t.Fatalf("%d carts in the recency list, %d in the table", cs.lru.n, len(cs.all))
	}
	if cs.budget == 1 {
		for _, o := range cs.all {
			if o.mayLeave() {
				t.Fatalf("cart %s stays in a full cache though it may leave", o.id)
			}
		}
	}
}
