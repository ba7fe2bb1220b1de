package cart

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt/crdttest"
)

// cartType describes Cart to the crdt conformance kit.
var cartType = crdttest.Type[*Cart]{
	New: New,
	Op: func(t *rapid.T, c *Cart, r crdttest.Replica) (*Cart, bool) {
		ts := r.Clock.Now(r.Now)
		item := rapid.SampledFrom([]string{"apple", "pear", "milk"}).Draw(t, "item")
		var d *Cart
		var err error
		switch rapid.IntRange(0, 4).Draw(t, "kind") {
		case 0:
			d, err = c.Add(ts, item, uint64(rapid.IntRange(1, 3).Draw(t, "n")))
		case 1:
			d, err = c.SetQuantity(ts, item, uint64(rapid.IntRange(0, 4).Draw(t, "q")))
		case 2:
			d, err = c.Remove(item)
		case 3:
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
		if v := c.View(); v.Overflow {
			t.Fatalf("view overflowed on small numbers: %+v", v)
		}
	},
}

func TestCartLaws(t *testing.T) { crdttest.Run(t, cartType) }
