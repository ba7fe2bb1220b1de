package cart

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/crdt"
)

// device is one replica of a cart in a scenario: a cart, a clock, and a
// simulated wall clock that the scenario advances.
type device struct {
	t     *testing.T
	cart  *Cart
	clock *crdt.HLC
	now   time.Time
}

func newDevice(t *testing.T, id string, now time.Time) *device {
	t.Helper()
	clk, err := crdt.NewHLC(crdt.ReplicaID(id))
	require.NoError(t, err)
	return &device{t: t, cart: New(), clock: clk, now: now}
}

func (d *device) ts() crdt.Timestamp {
	d.now = d.now.Add(time.Millisecond)
	return d.clock.Now(d.now)
}

func (d *device) add(item string, n uint64) *Cart {
	d.t.Helper()
	delta, err := d.cart.Add(d.ts(), item, n)
	require.NoError(d.t, err)
	return delta
}

func (d *device) set(item string, q uint64) *Cart {
	d.t.Helper()
	delta, err := d.cart.SetQuantity(d.ts(), item, q)
	require.NoError(d.t, err)
	return delta
}

func (d *device) price(item string, cents int64) *Cart {
	d.t.Helper()
	delta, err := d.cart.SetPrice(d.ts(), item, cents)
	require.NoError(d.t, err)
	return delta
}

func (d *device) remove(item string) *Cart {
	d.t.Helper()
	delta, err := d.cart.Remove(item)
	require.NoError(d.t, err)
	return delta
}

// receive merges deltas or states and observes their timestamps, as the
// daemon does.
func (d *device) receive(deltas ...*Cart) {
	for _, x := range deltas {
		d.cart.Merge(x)
		d.clock.Observe(x.Latest())
	}
}

// sync exchanges full states between devices.
func sync(ds ...*device) {
	for _, a := range ds {
		for _, b := range ds {
			if a != b {
				a.receive(b.cart.Clone())
			}
		}
	}
}

func (d *device) quantity(item string) uint64 { return d.cart.Quantity(item) }

func twoDevices(t *testing.T) (phone, laptop *device) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	return newDevice(t, "phone", base), newDevice(t, "laptop", base)
}

// Each test below is one row of the concurrent-edit table in the package doc
// and docs/semantics.md.

func TestScenarioConcurrentAddsBothCount(t *testing.T) {
	phone, laptop := twoDevices(t)
	a := phone.add("apple", 1)
	b := laptop.add("apple", 1)
	phone.receive(b)
	laptop.receive(a)
	for _, d := range []*device{phone, laptop} {
		if got := d.quantity("apple"); got != 2 {
			t.Fatalf("apples: got %d, want 2", got)
		}
	}
}

// TestRegressionRiakCounterInMap: a remove on one device while another,
// unaware, adds. Riak's map kept the counter's old total and added to it;
// only the unseen add may survive.
func TestRegressionRiakCounterInMap(t *testing.T) {
	phone, laptop := twoDevices(t)
	phone.receive(laptop.add("apple", 3))
	rm := phone.remove("apple")
	add := laptop.add("apple", 1)
	phone.receive(add)
	laptop.receive(rm)
	for _, d := range []*device{phone, laptop} {
		if got := d.quantity("apple"); got != 1 {
			t.Fatalf("apples: got %d, want 1 (only the unseen add survives)", got)
		}
	}
}

func TestScenarioRemoveThenAddSameDevice(t *testing.T) {
	phone, _ := twoDevices(t)
	phone.add("apple", 4)
	phone.remove("apple")
	phone.add("apple", 1)
	if got := phone.quantity("apple"); got != 1 {
		t.Fatalf("apples: got %d, want 1", got)
	}
}

func TestScenarioConcurrentRemoves(t *testing.T) {
	phone, laptop := twoDevices(t)
	laptop.receive(phone.add("apple", 2))
	a, b := phone.remove("apple"), laptop.remove("apple")
	phone.receive(b)
	laptop.receive(a)
	for _, d := range []*device{phone, laptop} {
		if got := d.quantity("apple"); got != 0 {
			t.Fatalf("apples: got %d, want 0", got)
		}
		if items := d.cart.Items(); len(items) != 0 {
			t.Fatalf("items: got %v, want none", items)
		}
	}
}

func TestScenarioConcurrentSetsLaterWins(t *testing.T) {
	phone, laptop := twoDevices(t)
	laptop.receive(phone.add("apple", 1))
	laptop.now = laptop.now.Add(time.Second) // the laptop's set is later
	a := phone.set("apple", 5)
	b := laptop.set("apple", 3)
	phone.receive(b)
	laptop.receive(a)
	for _, d := range []*device{phone, laptop} {
		if got := d.quantity("apple"); got != 3 {
			t.Fatalf("apples: got %d, want 3 (the later set), never 8", got)
		}
	}
}

func TestScenarioSetWithConcurrentAdd(t *testing.T) {
	phone, laptop := twoDevices(t)
	laptop.receive(phone.add("apple", 2))
	a := phone.set("apple", 3)
	b := laptop.add("apple", 1)
	phone.receive(b)
	laptop.receive(a)
	for _, d := range []*device{phone, laptop} {
		if got := d.quantity("apple"); got != 4 {
			t.Fatalf("apples: got %d, want 4", got)
		}
	}
}

func TestScenarioRemoveWithConcurrentSet(t *testing.T) {
	phone, laptop := twoDevices(t)
	laptop.receive(phone.add("apple", 7))
	a := phone.remove("apple")
	b := laptop.set("apple", 2)
	phone.receive(b)
	laptop.receive(a)
	for _, d := range []*device{phone, laptop} {
		if got := d.quantity("apple"); got != 2 {
			t.Fatalf("apples: got %d, want 2 (set wins over a concurrent remove)", got)
		}
	}
}

// TestRegressionDynamoResurrection: a removal reaches every replica; then a
// replica that was offline since before the removal reconnects with its old
// state. Dynamo's shopping cart brought the item back; we must not.
func TestRegressionDynamoResurrection(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	phone, laptop, tablet := newDevice(t, "phone", base), newDevice(t, "laptop", base), newDevice(t, "tablet", base)
	phone.add("apple", 2)
	sync(phone, laptop, tablet)
	old := tablet.cart.Clone() // the tablet goes offline holding this
	phone.remove("apple")
	sync(phone, laptop)
	tablet.cart = old
	sync(phone, laptop, tablet)
	for _, d := range []*device{phone, laptop, tablet} {
		if got := d.quantity("apple"); got != 0 {
			t.Fatalf("%v apples: got %d, want 0 (stays removed)", d.clock.Last().Replica, got)
		}
	}
}

func TestScenarioClearKeepsConcurrentNewItem(t *testing.T) {
	phone, laptop := twoDevices(t)
	laptop.receive(phone.add("apple", 1), phone.add("pear", 2))
	a := phone.cart.Clear()
	b := laptop.add("milk", 1)
	phone.receive(b)
	laptop.receive(a)
	for _, d := range []*device{phone, laptop} {
		if got := d.cart.Items(); len(got) != 1 || got[0] != "milk" {
			t.Fatalf("items after clear: got %v, want [milk]", got)
		}
	}
}

func TestScenarioPriceLaterWinsAndRemoveDropsPrice(t *testing.T) {
	phone, laptop := twoDevices(t)
	laptop.receive(phone.add("apple", 2), phone.price("apple", 100))
	laptop.now = laptop.now.Add(time.Second)
	a := phone.price("apple", 120)
	b := laptop.price("apple", 125)
	phone.receive(b)
	laptop.receive(a)
	v := phone.cart.View()
	require.Equal(t, []Line{{Item: "apple", Quantity: 2, UnitPriceCents: 125, SubtotalCents: 250, Priced: true}}, v.Lines)
	require.Equal(t, int64(250), v.TotalCents)

	phone.remove("apple")
	phone.add("apple", 1)
	v = phone.cart.View()
	if got := v.Lines[0]; got.Priced || got.UnitPriceCents != 0 || got.SubtotalCents != 0 {
		t.Fatalf("line after remove and re-add without a price: got %+v, want it unpriced", got)
	}
	if v.Unpriced != 1 || v.TotalCents != 0 {
		t.Fatalf("view after remove and re-add: got unpriced=%d total=%d, want 1 and 0", v.Unpriced, v.TotalCents)
	}
}

// TestScenarioUnknownPriceIsNotFree: a remove on one device and a
// concurrent add without a price on another leave a line whose price is
// unknown. It must read as unknown, and stay out of the total, never as a
// price of 0 that a shop would sell it at.
func TestScenarioUnknownPriceIsNotFree(t *testing.T) {
	phone, laptop := twoDevices(t)
	laptop.receive(phone.add("apple", 2), phone.price("apple", 100), phone.add("pear", 1), phone.price("pear", 50))
	rm := phone.remove("apple")
	add := laptop.add("apple", 1) // laptop has not seen the remove
	phone.receive(add)
	laptop.receive(rm)
	for name, d := range map[string]*device{"phone": phone, "laptop": laptop} {
		v := d.cart.View()
		require.Len(t, v.Lines, 2, "%s", name)
		apple, pear := v.Lines[0], v.Lines[1]
		require.Equal(t, Line{Item: "apple", Quantity: 1}, apple, "%s: the surviving add has no known price", name)
		require.True(t, pear.Priced, "%s: pear keeps its price", name)
		require.Equal(t, 1, v.Unpriced, "%s: unpriced lines", name)
		require.Equal(t, int64(50), v.TotalCents, "%s: the total sums priced lines only", name)
	}
}

// TestScenarioCausalSetBeatsSkewedClock: a set made after seeing another
// wins even when the later device's wall clock is behind, because the HLC
// observed the earlier timestamp.
func TestScenarioCausalSetBeatsSkewedClock(t *testing.T) {
	phone, laptop := twoDevices(t)
	phone.now = phone.now.Add(time.Hour) // phone clock runs an hour fast
	laptop.receive(phone.add("apple", 1), phone.set("apple", 9))
	laptop.receive(laptop.set("apple", 4))
	phone.receive(laptop.cart.Clone())
	if got := phone.quantity("apple"); got != 4 {
		t.Fatalf("apples: got %d, want 4 (the causally later set)", got)
	}
}

// TestScenarioRemoteEditInBigCart: a cart of eight lines receives another
// device's remove, set or quantity-0 set of one line as a delta. The map
// merges such a small delta by its indexed path (it visits only the lines
// holding the delta's dots), which a cart of three lines never takes.
func TestScenarioRemoteEditInBigCart(t *testing.T) {
	items := []string{"apple", "bread", "eggs", "figs", "kale", "milk", "pear", "tea"}
	for _, tc := range []struct {
		name string
		edit func(d *device) *Cart
		want uint64 // pear's quantity afterwards
	}{
		{"remove", func(d *device) *Cart { return d.remove("pear") }, 0},
		{"set to zero", func(d *device) *Cart { return d.set("pear", 0) }, 0},
		{"set", func(d *device) *Cart { return d.set("pear", 5) }, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			phone, laptop := twoDevices(t)
			for _, it := range items {
				laptop.receive(phone.add(it, 2))
			}
			phone.receive(tc.edit(laptop))
			for _, it := range items {
				want := uint64(2)
				if it == "pear" {
					want = tc.want
				}
				if got := phone.quantity(it); got != want {
					t.Errorf("after a remote %s of pear: %s got %d, want %d", tc.name, it, got, want)
				}
			}
			if !phone.cart.Equal(laptop.cart) {
				t.Errorf("after a remote %s of pear: the devices differ", tc.name)
			}
		})
	}
}
