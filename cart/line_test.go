package cart

import (
	"testing"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// TestLineHasItsDots: a line reports holding exactly the dots it lists
// (its adds, sets and prices, from every replica), and none of another
// line's or of its own that a set has folded.
func TestLineHasItsDots(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	phone, laptop := newDevice(t, "phone", now), newDevice(t, "laptop", now)
	phone.add("apple", 1)
	phone.add("apple", 2)
	phone.price("apple", 120)
	phone.set("apple", 5) // folds the two adds
	phone.add("apple", 1)
	phone.add("pear", 3)
	laptop.add("apple", 4)
	laptop.receive(phone.add("apple", 1))
	phone.receive(laptop.add("apple", 2))

	lines := map[string]line{}
	phone.cart.m.Each(func(item string, l line) bool { lines[item] = l; return true })
	held := map[crdt.Dot]string{}
	for item, l := range lines {
		for d := range l.EachDot {
			held[d] = item
		}
	}
	ctx := phone.cart.m.Context()
	seen := 0
	for d := range ctx.Dots {
		seen++
		for item, l := range lines {
			if want := held[d] == item; l.Has(d) != want {
				t.Errorf("line %s: Has(%v) = %v, want %v", item, d, !want, want)
			}
		}
	}
	if len(lines) != 2 || len(held) >= seen {
		t.Fatalf("%d lines, %d dots held of %d seen: the history should leave two lines and folded dots", len(lines), len(held), seen)
	}
}
