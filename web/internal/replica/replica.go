// Package replica is the browser app's own replica of its carts: the
// state the WebAssembly build of the cart package keeps in a page. It
// follows the device package's design (a "d-" replica ID made once, a
// hybrid logical clock, per cart the cart and the batches of edits no node
// has acknowledged), without its storage and network, which the page's
// JavaScript does: the page saves [Device.Encode] in browser storage after
// every change and sends [Device.SyncRequest] bodies with fetch. So the
// WebAssembly file needs neither net/http nor os, and every CRDT decision
// stays in Go.
//
// A Device is not safe for concurrent use; a page calls it from its one
// JavaScript thread.
package replica

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

// IDPrefix starts every device's replica ID; nodes refuse a sync from an
// ID without it.
const IDPrefix = "d-"

// ErrReplicaReused is returned by ApplySync when the node has seen more
// changes of this device's ID than the device made: its stored state is an
// older copy, or two pages share it. The answer is not merged and the
// pending changes are kept.
var ErrReplicaReused = errors.New("device replica ID reused")

// Device is a page's replica of the carts it opened. The zero value is not
// usable; use New or Decode. A Device is not safe for concurrent use.
type Device struct {
	id    crdt.ReplicaID
	clock *crdt.HLC
	carts map[string]*entry
	// sealed is, per cart, the highest batch ID a sync request carried:
	// such a batch takes no more edits, so that the answer to that request
	// acknowledges no edit made after it was sent. It is not saved: after
	// a reload no request is in flight.
	sealed    map[string]uint64
	nextBatch uint64
}

// entry is one cart and its pending batches, oldest first.
type entry struct {
	cart    *cart.Cart
	pending []batch
}

// batch is the join of the deltas of consecutive edits.
type batch struct {
	id    uint64
	edits int
	delta *cart.Cart
}

// NewID returns IDPrefix and the 16 hex digits of random, which the caller
// draws from a cryptographic source (the browser's crypto.getRandomValues).
func NewID(random [8]byte) crdt.ReplicaID {
	return crdt.ReplicaID(IDPrefix + hex.EncodeToString(random[:]))
}

// validID reports whether id has the form NewID makes.
func validID(id string) bool {
	h, ok := strings.CutPrefix(id, IDPrefix)
	if !ok || len(h) != 16 {
		return false
	}
	for i := range len(h) {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// New returns an empty device with replica ID id, which must have the form
// NewID makes.
func New(id crdt.ReplicaID) (*Device, error) {
	if !validID(string(id)) {
		return nil, fmt.Errorf("device ID %q: want %s and 16 lower-case hex digits", id, IDPrefix)
	}
	clock, err := crdt.NewHLC(id)
	if err != nil {
		return nil, err
	}
	return &Device{id: id, clock: clock, carts: map[string]*entry{}, sealed: map[string]uint64{}, nextBatch: 1}, nil
}

// ID returns the device's replica ID.
func (d *Device) ID() crdt.ReplicaID { return d.id }

// Carts returns the IDs of the carts the device holds, sorted.
func (d *Device) Carts() []string { return slices.Sorted(maps.Keys(d.carts)) }

// View returns cart as the device sees it: its own edits, synced or not,
// and what it learned from nodes. An unknown cart is empty.
func (d *Device) View(cartID string) cart.View {
	if e := d.carts[cartID]; e != nil {
		return e.cart.View()
	}
	return cart.New().View()
}

// Pending returns how many edits of cart no node has acknowledged yet.
func (d *Device) Pending(cartID string) int {
	n := 0
	if e := d.carts[cartID]; e != nil {
		for _, b := range e.pending {
			n += b.edits
		}
	}
	return n
}

// Add adds n of item to cart and, when priceCents is not nil, sets its unit
// price too, as one edit made at physical time now.
func (d *Device) Add(now time.Time, cartID, item string, n uint64, priceCents *int64) error {
	return d.edit(cartID, item, func(c *cart.Cart) (*cart.Cart, error) {
		delta, err := c.Add(d.clock.Now(now), item, n)
		if err != nil || priceCents == nil {
			return delta, err
		}
		price, err := c.SetPrice(d.clock.Now(now), item, *priceCents)
		if err != nil {
			return nil, err
		}
		delta.Merge(price)
		return delta, nil
	})
}

// SetQuantity sets item's quantity in cart to q; 0 removes the line.
func (d *Device) SetQuantity(now time.Time, cartID, item string, q uint64) error {
	return d.edit(cartID, item, func(c *cart.Cart) (*cart.Cart, error) {
		return c.SetQuantity(d.clock.Now(now), item, q)
	})
}

// SetPrice sets item's unit price in cart, in cents.
func (d *Device) SetPrice(now time.Time, cartID, item string, cents int64) error {
	return d.edit(cartID, item, func(c *cart.Cart) (*cart.Cart, error) {
		return c.SetPrice(d.clock.Now(now), item, cents)
	})
}

// Remove removes item's line from cart as the device has seen it.
func (d *Device) Remove(cartID, item string) error {
	return d.edit(cartID, item, func(c *cart.Cart) (*cart.Cart, error) { return c.Remove(item) })
}

// Clear removes every line of cart the device has seen.
func (d *Device) Clear(cartID string) error {
	return d.edit(cartID, "", func(c *cart.Cart) (*cart.Cart, error) { return c.Clear(), nil })
}

// edit applies op to a copy of cartID's cart (item names the line op
// changes, "" for all), adds the delta to the pending changes and installs
// the copy. On error nothing changes.
func (d *Device) edit(cartID, item string, op func(c *cart.Cart) (*cart.Cart, error)) error {
	if err := api.ValidID(cartID); err != nil {
		return fmt.Errorf("cart ID: %v", err)
	}
	cur := d.carts[cartID]
	var c *cart.Cart
	switch {
	case cur == nil:
		c = cart.New()
	case item == "":
		c = cur.cart.Clone()
	default:
		c = cur.cart.CloneForItem(item)
	}
	delta, err := op(c)
	if err != nil {
		return err
	}
	if delta.IsEmpty() {
		return nil // a remove of an absent item, a clear of an empty cart
	}
	var pending []batch
	if cur != nil {
		pending = slices.Clone(cur.pending)
	}
	if n := len(pending); n > 0 && pending[n-1].id > d.sealed[cartID] {
		// The last batch has not been sent: join this edit into it, so
		// that pending stays one small delta however long the page is
		// offline.
		last := pending[n-1].delta.Clone()
		last.Merge(delta)
		pending[n-1] = batch{id: pending[n-1].id, edits: pending[n-1].edits + 1, delta: last}
	} else {
		pending = append(pending, batch{id: d.nextBatch, edits: 1, delta: delta})
		d.nextBatch++
	}
	d.carts[cartID] = &entry{cart: c, pending: pending}
	return nil
}

// SyncRequest returns the body of a sync of cartID (a cart.SyncRequest:
// the cart's causal context and the join of its pending batches) and the ID
// of the last batch it carries (0 for none). Those batches take no more
// edits; pass sent to ApplySync with the node's answer.
func (d *Device) SyncRequest(cartID string) (body []byte, sent uint64, err error) {
	if err := api.ValidID(cartID); err != nil {
		return nil, 0, fmt.Errorf("cart ID: %v", err)
	}
	req := cart.SyncRequest{Device: d.id, Delta: cart.New()}
	if e := d.carts[cartID]; e != nil {
		req.Context = e.cart.Context()
		for _, b := range e.pending {
			req.Delta.Merge(b.delta)
		}
		if n := len(e.pending); n > 0 {
			sent = e.pending[n-1].id
			d.sealed[cartID] = max(d.sealed[cartID], sent)
		}
	}
	body, err = req.MarshalBinary()
	if err != nil {
		return nil, 0, fmt.Errorf("sync cart %s: encode request: %v", cartID, err)
	}
	if len(body) > api.MaxSyncBodyBytes {
		return nil, 0, fmt.Errorf("sync cart %s: the pending changes encode to %d bytes, over the %d a node accepts",
			cartID, len(body), api.MaxSyncBodyBytes)
	}
	return body, sent, nil
}

// ApplySync merges a node's answer (a cart.SyncResponse) to the request
// SyncRequest made with sent, and drops the batches up to sent: a 200
// answer means the node made them durable. Edits made since the request
// stay pending. It reports whether the cart or its pending edits changed.
// On error nothing changes.
func (d *Device) ApplySync(cartID string, sent uint64, answer []byte) (changed bool, err error) {
	var resp cart.SyncResponse
	if err := resp.UnmarshalBinary(answer); err != nil {
		return false, fmt.Errorf("sync cart %s: the node's answer: %w", cartID, err)
	}
	cur := d.carts[cartID]
	c := cart.New()
	var pending []batch
	if cur != nil {
		c = cur.cart.Clone()
		pending = cur.pending
	}
	if has, own := resp.Delta.MaxSeq(d.id), c.MaxSeq(d.id); has > own {
		return false, fmt.Errorf("sync cart %s: %w: the node has seen change %d of %s, this page has made %d",
			cartID, ErrReplicaReused, has, d.id, own)
	}
	merged := c.MergeDeltaFor(resp.Delta, &resp.Seen)
	if latest := resp.Delta.Latest(); !latest.IsZero() {
		d.clock.Observe(latest) // later edits order after what the node had
	}
	kept := dropAcked(pending, sent)
	if cur != nil && !merged && len(kept) == len(pending) {
		return false, nil
	}
	d.carts[cartID] = &entry{cart: c, pending: kept}
	return true, nil
}

// dropAcked returns the batches after the acknowledged ones: those with an
// ID above sent. Batch IDs grow along the slice.
func dropAcked(pending []batch, sent uint64) []batch {
	for i, b := range pending {
		if b.id > sent {
			return pending[i:]
		}
	}
	return nil
}
