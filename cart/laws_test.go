package cart

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt/crdttest"
)

// items are the item IDs the generators draw. Half the draws pick one of
// the first three, so that edits of the same line collide often; the others
// spread over all sixteen, so that carts grow past four lines per dot of an
// incoming delta's context, where the map's Merge takes its indexed path
// for small deltas (with three lines it never runs; real carts hit it on
// every remove in a cart of four or more lines).
var items = []string{
	"apple", "pear", "milk", "bread", "eggs", "rice", "tea", "salt",
	"figs", "kale", "leek", "oats", "plum", "soap", "yam", "zest",
}

func drawItem(t *rapid.T) string {
	if rapid.Bool().Draw(t, "hot") {
		return rapid.SampledFrom(items[:3]).Draw(t, "item")
	}
	return rapid.SampledFrom(items).Draw(t, "item")
}

// drawKind draws an edit: sets most often (a set folds a line's dots into
// one, so later removes carry small contexts), then adds, prices and
// removes; clears, which empty the cart, rarely. rapid draws small numbers
// most often, so the likeliest kind comes first.
func drawKind(t *rapid.T) opKind {
	switch k := rapid.IntRange(0, 19).Draw(t, "kind"); {
	case k < 6:
		return opSet
	case k < 11:
		return opAdd
	case k < 14:
		return opPrice
	case k < 19:
		return opRemove
	default:
		return opClear
	}
}

// cartType describes Cart to the crdt conformance kit.
var cartType = crdttest.Type[*Cart]{
	New: New,
	Op: func(t *rapid.T, c *Cart, r crdttest.Replica) (*Cart, bool) {
		ts := r.Clock.Now(r.Now)
		item := drawItem(t)
		var d *Cart
		var err error
		switch drawKind(t) {
		case opAdd:
			d, err = c.Add(ts, item, uint64(rapid.IntRange(1, 3).Draw(t, "n")))
		case opSet:
			d, err = c.SetQuantity(ts, item, uint64(rapid.IntRange(0, 4).Draw(t, "q")))
		case opRemove:
			d, err = c.Remove(item)
		case opPrice:
			d, err = c.SetPrice(ts, item, int64(rapid.IntRange(0, 500).Draw(t, "cents")))
		default:
			d = c.Clear()
		}
		if err != nil {
			t.Fatalf("op: %v", err)
		}
		return d, true
	},
	Merge: func(dst, src *Cart) bool { return dst.Merge(src) },
	Clone: (*Cart).Clone,
	Equal: (*Cart).Equal,
	Marshal: func(c *Cart) ([]byte, error) {
		return c.MarshalBinary()
	},
	Unmarshal: func(b []byte) (*Cart, error) {
		c := New()
		return c, c.UnmarshalBinary(b)
	},
	Check: func(t *rapid.T, c *Cart) {
		checkTallies(t, "cart", c)
		if v := c.View(); v.Overflow {
			t.Fatalf("view overflowed on small numbers: %+v", v)
		}
	},
}

func TestCartLaws(t *testing.T) { crdttest.Run(t, cartType) }
