package cart_test

import (
	"fmt"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

// Two devices edit the same cart while apart, then exchange their deltas
// and agree.
func Example() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	phoneClock, _ := crdt.NewHLC("phone")
	laptopClock, _ := crdt.NewHLC("laptop")
	phone, laptop := cart.New(), cart.New()

	// Both start from a cart with two apples at 1.25.
	d1, _ := phone.Add(phoneClock.Now(now), "apple", 2)
	d2, _ := phone.SetPrice(phoneClock.Now(now), "apple", 125)
	laptop.Merge(d1)
	laptop.Merge(d2)

	// Offline: the phone removes the apples, the laptop adds one more apple
	// and a pear.
	rm, _ := phone.Remove("apple")
	add, _ := laptop.Add(laptopClock.Now(now), "apple", 1)
	pear, _ := laptop.Add(laptopClock.Now(now), "pear", 3)

	// Back online: deltas cross.
	phone.Merge(add)
	phone.Merge(pear)
	laptop.Merge(rm)

	for _, c := range []*cart.Cart{phone, laptop} {
		v := c.View()
		fmt.Println(v.Lines, v.TotalCents)
	}
	// Output:
	// [{apple 1 0 0 false} {pear 3 0 0 false}] 0
	// [{apple 1 0 0 false} {pear 3 0 0 false}] 0
}

func ExampleCart_SetQuantity() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock, _ := crdt.NewHLC("phone")
	c := cart.New()
	c.Add(clock.Now(now), "apple", 4)
	c.SetPrice(clock.Now(now), "apple", 99)
	c.SetQuantity(clock.Now(now), "apple", 2)
	v := c.View()
	fmt.Printf("%+v total=%d\n", v.Lines, v.TotalCents)
	// Output:
	// [{Item:apple Quantity:2 UnitPriceCents:99 SubtotalCents:198 Priced:true}] total=198
}
