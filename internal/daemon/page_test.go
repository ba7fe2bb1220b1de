package daemon

import (
	"slices"
	"testing"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

// TestPageSkipsCartsRemovedSinceTheCheckpoint: carts the data file lists
// but whose lines were all removed since they were saved do not take a
// place in a page: the page reads past them and is full.
func TestPageSkipsCartsRemovedSinceTheCheckpoint(t *testing.T) {
	t.Parallel()
	disk := newMemStore()
	cs := newModelCarts(t, disk, 1<<30)
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		addInPlace(t, cs, id, "x", 1, nil)
	}
	b := cs.takeDirty()
	disk.commit(b)
	cs.saved(b)
	for _, id := range []string{"b", "c"} {
		o, err := cs.lockForWrite(id)
		if err != nil {
			t.Fatal(err)
		}
		delta, _, ed, err := cs.edit(o, "x", cs.clock.stamp(), func(c *cart.Cart, _ crdt.Timestamp) (*cart.Cart, error) { return c.Remove("x") })
		if err != nil {
			t.Fatal(err)
		}
		cs.install(o, delta, ed)
		cs.unlockWrite(o)
	}
	for _, tc := range []struct {
		after string
		want  []string
		more  bool
	}{{"", []string{"a", "d"}, true}, {"d", []string{"e", "f"}, false}} {
		ids, more, err := cs.page(tc.after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, tc.want) || more != tc.more {
			t.Errorf("page after %q: %q, more %v; want %q, more %v", tc.after, ids, more, tc.want, tc.more)
		}
	}
}
