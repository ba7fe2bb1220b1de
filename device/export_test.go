package device

import (
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

// CartState returns a copy of the device's replica of cartID (an empty
// cart when it has none), for tests that compare replicas exactly.
func (d *Device) CartState(cartID string) *cart.Cart {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.carts[cartID]; r != nil {
		return r.cart.Clone()
	}
	return cart.New()
}

// Clock returns the clock's high-water mark.
func (d *Device) Clock() crdt.Timestamp {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clock.Last()
}
