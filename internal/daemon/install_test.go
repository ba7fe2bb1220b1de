package daemon

import (
	"testing"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
)

func newInstallCarts(t *testing.T) *carts { return newModelCarts(t, newMemStore(), 1<<30) }

// addInPlace runs a local add of n to item as applyLocal does, calling
// inLog (if not nil) while the write would be in the log. It returns the
// edit's copy of the cart.
func addInPlace(t *testing.T, cs *carts, id, item string, n uint64, inLog func()) *cart.Cart {
	t.Helper()
	o, err := cs.lockForWrite(id)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.unlockWrite(o)
	delta, _, ed, err := cs.edit(o, item, cs.clock.stamp(), func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error) {
		return c.Add(ts, item, n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if inLog != nil {
		inLog()
	}
	cs.install(o, delta, ed)
	return ed.cart
}

func cartInMemory(cs *carts, id string) *cart.Cart {
	cs.mu.Lock()
	o := cs.all[id]
	cs.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cart
}

func quantities(t *testing.T, cs *carts, id string) map[string]uint64 {
	t.Helper()
	v, err := cs.view(id)
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]uint64{}
	for _, l := range v.Lines {
		q[l.Item] = l.Quantity
	}
	return q
}

// TestInstallPutsTheEditedCopyInPlace: a write that nothing raced puts its
// edited copy in the cart's place, an O(1) step, instead of merging its
// delta into the cart; and the cart is what merging would give.
func TestInstallPutsTheEditedCopyInPlace(t *testing.T) {
	t.Parallel()
	cs := newInstallCarts(t)
	addInPlace(t, cs, "c", "x", 1, nil)
	addInPlace(t, cs, "c", "y", 4, nil)
	copied := addInPlace(t, cs, "c", "x", 2, nil)
	if cartInMemory(cs, "c") != copied {
		t.Error("install merged the delta although nothing changed the cart since the edit")
	}
	if got := quantities(t, cs, "c"); got["x"] != 3 || got["y"] != 4 || len(got) != 2 {
		t.Errorf("cart after adds x1, y4, x2: %v", got)
	}
}

// TestInstallKeepsAPeersChangeMadeDuringTheLog: when a peer's change is
// merged while a local write is in the log, install merges the write's
// delta rather than put back the copy made before the peer's change.
func TestInstallKeepsAPeersChangeMadeDuringTheLog(t *testing.T) {
	t.Parallel()
	cs := newInstallCarts(t)
	addInPlace(t, cs, "c", "x", 1, nil)

	peer := cart.New()
	pd, err := peer.Add(crdt.Timestamp{Wall: time.Now().UnixNano(), Replica: "r-peer"}, "y", 5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pd.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	copied := addInPlace(t, cs, "c", "x", 2, func() {
		if changed, err := cs.merge("c", b, gossip.MergeInfo{Channel: gossip.ChannelDelta}); err != nil || !changed {
			t.Fatalf("peer's change: changed %v, err %v", changed, err)
		}
	})
	if got := quantities(t, cs, "c"); got["x"] != 3 || got["y"] != 5 || len(got) != 2 {
		t.Errorf("cart after x1, then x2 logged while the peer's y5 arrived: %v, want x 3, y 5", got)
	}
	if cartInMemory(cs, "c") == copied {
		t.Error("install put back the copy made before the peer's change")
	}
}
