package device

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/crdt"
)

// IDPrefix starts every device's replica ID. Nodes refuse a sync from an
// ID without it, so a device can never mint a node's changes.
const IDPrefix = "d-"

// Config configures a [Device]. The zero value of every field but Storage
// means its default. [New] copies the Config; changing it afterwards has no
// effect.
type Config struct {
	// Storage keeps the device's state: its replica ID, its clock and its
	// carts with their pending changes. Required: a device that forgot its
	// state would have to start over under a new ID, and its unsynced
	// edits would be lost. Use a [FileStorage] on a disk, a
	// [MemoryStorage] in tests, or your own (the browser's IndexedDB).
	Storage Storage

	// Now reads the physical time that drives the device's hybrid logical
	// clock. Nil means time.Now. Tests pass a fake clock so that runs
	// repeat exactly. It is called without the device's lock held.
	Now func() time.Time
}

// Device is one device's replica of the carts it edits: a phone, a laptop,
// a browser tab. It edits its own copy of each cart at once, online or
// offline, keeps every edit until a node acknowledged it, and exchanges
// changes with any node through [Device.Sync]. See the package
// documentation for the model.
//
// Every edit is saved to the Storage before the call returns. A Device is
// safe for concurrent use; an edit made while a Sync of the same cart waits
// for the network goes ahead at once and stays pending after that Sync.
type Device struct {
	id    crdt.ReplicaID
	store Storage
	now   func() time.Time

	// writeMu orders the changes of the state and their saves: a change
	// holds it from reading the installed state to installing the next one,
	// across Storage.Save, so saves reach the storage in the order of the
	// changes they hold. It is never held across a network call, and it is
	// taken before mu.
	writeMu sync.Mutex

	// mu guards the fields below. It is never held across a call out (the
	// storage, the clock function, the network).
	mu    sync.Mutex
	clock *crdt.HLC
	// carts holds each cart's installed replica. A replica is never
	// changed once installed: a change builds the next one and installs it
	// after saving it.
	carts map[string]*replica
	// sealed is, per cart, the highest pending batch ID a Sync has sent:
	// such a batch is no longer added to, so that a node acknowledging it
	// acknowledges no edit made after it was sent.
	sealed map[string]uint64
	// nextBatch is the ID of the next pending batch.
	nextBatch uint64
}

// replica is one cart as the device holds it: the cart and its pending
// batches, oldest first, each the join of the deltas of consecutive edits
// no node has acknowledged. enc caches its encoding in the state file.
type replica struct {
	cart    *cart.Cart
	pending []batch
	edits   int // the sum of the batches' edits
	enc     []byte
}

// batch is the join of the deltas of one or more consecutive edits.
type batch struct {
	id    uint64
	edits int
	delta *cart.Cart
	enc   []byte // delta's encoding
}

// New returns the device whose state cfg.Storage holds, or, when it holds
// nothing yet, a new device with a fresh random replica ID, which it saves
// at once so that the ID is kept. It errors when the storage cannot be
// read or written, or holds bytes that are not a device state (wrapping
// [ErrCorrupt] or [ErrVersion]); it never starts over on its own, since
// that would lose the unsynced edits.
func New(cfg Config) (*Device, error) {
	if cfg.Storage == nil {
		return nil, errors.New("new device: no storage")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	b, err := cfg.Storage.Load()
	if err != nil {
		return nil, fmt.Errorf("load device state: %w", err)
	}
	d := &Device{store: cfg.Storage, now: cfg.Now, carts: map[string]*replica{}, sealed: map[string]uint64{}, nextBatch: 1}
	if len(b) > 0 {
		if err := d.decode(b); err != nil {
			return nil, err
		}
		return d, nil
	}
	if d.id, err = newID(); err != nil {
		return nil, err
	}
	if d.clock, err = crdt.NewHLC(d.id); err != nil {
		return nil, fmt.Errorf("new device: %v", err)
	}
	b, err = d.encodeLocked("", nil)
	if err != nil {
		return nil, err
	}
	if err := d.store.Save(b); err != nil {
		return nil, fmt.Errorf("save new device state: %w", err)
	}
	return d, nil
}

// newID returns IDPrefix and 16 random hex digits: 64 random bits, so that
// two devices never draw the same ID.
func newID() (crdt.ReplicaID, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new device ID: %v", err)
	}
	return crdt.ReplicaID(IDPrefix + hex.EncodeToString(b[:])), nil
}

// validID reports whether id has the form newID makes.
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

// ID returns the device's replica ID, IDPrefix and 16 hex digits, made
// once when the device was created and kept in its storage.
func (d *Device) ID() crdt.ReplicaID { return d.id }

// Add adds n (1..cart.MaxQuantity) of item to cart and, when priceCents is
// not nil, sets its unit price too, as one change. Adds made concurrently
// on other devices all count.
func (d *Device) Add(cartID, item string, n uint64, priceCents *int64) error {
	return d.edit(cartID, item, func(c *cart.Cart, ts func() crdt.Timestamp) (*cart.Cart, error) {
		delta, err := c.Add(ts(), item, n)
		if err != nil || priceCents == nil {
			return delta, err
		}
		price, err := c.SetPrice(ts(), item, *priceCents)
		if err != nil {
			return nil, err
		}
		delta.Merge(price)
		return delta, nil
	})
}

// SetQuantity sets item's quantity in cart to q (0..cart.MaxQuantity); 0
// removes the line. Adds made concurrently on other devices still count on
// top.
func (d *Device) SetQuantity(cartID, item string, q uint64) error {
	return d.edit(cartID, item, func(c *cart.Cart, ts func() crdt.Timestamp) (*cart.Cart, error) {
		return c.SetQuantity(ts(), item, q)
	})
}

// Set sets item's quantity in cart to q (0..cart.MaxQuantity) and, when
// priceCents is not nil, its unit price too, as one change: what a node's
// PUT of both does. A quantity of 0 removes the line, so it cannot go with
// a price ([cart.ErrInvalidPrice]).
func (d *Device) Set(cartID, item string, q uint64, priceCents *int64) error {
	if q == 0 && priceCents != nil {
		return fmt.Errorf("cart %s: %s: %w: quantity 0 removes the line; it cannot also set a price", cartID, item, cart.ErrInvalidPrice)
	}
	return d.edit(cartID, item, func(c *cart.Cart, ts func() crdt.Timestamp) (*cart.Cart, error) {
		delta, err := c.SetQuantity(ts(), item, q)
		if err != nil || priceCents == nil {
			return delta, err
		}
		price, err := c.SetPrice(ts(), item, *priceCents)
		if err != nil {
			return nil, err
		}
		delta.Merge(price)
		return delta, nil
	})
}

// SetPrice sets item's unit price in cart, in cents (0..cart.MaxPriceCents).
func (d *Device) SetPrice(cartID, item string, cents int64) error {
	return d.edit(cartID, item, func(c *cart.Cart, ts func() crdt.Timestamp) (*cart.Cart, error) {
		return c.SetPrice(ts(), item, cents)
	})
}

// Remove removes item's line from cart as this device has seen it; edits
// made concurrently elsewhere survive. Removing an absent item changes
// nothing and is not an error.
func (d *Device) Remove(cartID, item string) error {
	return d.edit(cartID, item, func(c *cart.Cart, _ func() crdt.Timestamp) (*cart.Cart, error) {
		return c.Remove(item)
	})
}

// Clear removes every line of cart this device has seen; items added
// concurrently elsewhere remain.
func (d *Device) Clear(cartID string) error {
	return d.edit(cartID, "", func(c *cart.Cart, _ func() crdt.Timestamp) (*cart.Cart, error) {
		return c.Clear(), nil
	})
}

// edit applies op to a copy of cartID's replica (item names the line op
// changes, "" for all), adds the delta to the pending changes, saves, and
// installs the result. On error nothing changes.
func (d *Device) edit(cartID, item string, op func(c *cart.Cart, ts func() crdt.Timestamp) (*cart.Cart, error)) error {
	if err := client.ValidateID(cartID); err != nil {
		return err
	}
	physical := d.now() // read before locking: Now is the caller's code
	return d.update(cartID, func(cur *replica) (*replica, error) {
		var c *cart.Cart
		switch {
		case cur == nil:
			c = cart.New()
		case item == "":
			c = cur.cart.Clone()
		default:
			c = cur.cart.CloneForItem(item)
		}
		delta, err := op(c, func() crdt.Timestamp { return d.clock.Now(physical) })
		if err != nil {
			return nil, fmt.Errorf("cart %s: %w", cartID, err)
		}
		if delta.IsEmpty() {
			return nil, nil // a remove of an absent item, a clear of an empty cart
		}
		var pending []batch
		if cur != nil {
			pending = slices.Clone(cur.pending)
		}
		if n := len(pending); n > 0 && pending[n-1].id > d.sealed[cartID] {
			// The last batch has not been sent yet: add to it, so that
			// pending stays one small delta however long the device is
			// offline.
			last := pending[n-1]
			joined := last.delta.Clone()
			joined.Merge(delta)
			if pending[n-1], err = newBatch(last.id, last.edits+1, joined); err != nil {
				return nil, err
			}
		} else {
			b, err := newBatch(d.nextBatch, 1, delta)
			if err != nil {
				return nil, err
			}
			d.nextBatch++
			pending = append(pending, b)
		}
		return newReplica(cartID, c, pending)
	})
}

func newBatch(id uint64, edits int, delta *cart.Cart) (batch, error) {
	enc, err := delta.MarshalBinary()
	if err != nil {
		return batch{}, fmt.Errorf("encode pending change: %v", err)
	}
	return batch{id: id, edits: edits, delta: delta, enc: enc}, nil
}

func newReplica(cartID string, c *cart.Cart, pending []batch) (*replica, error) {
	r := &replica{cart: c, pending: pending}
	for _, b := range pending {
		r.edits += b.edits
	}
	enc, err := encodeReplica(cartID, r)
	if err != nil {
		return nil, err
	}
	r.enc = enc
	return r, nil
}

// update is the one way the state changes: under both locks, build
// builds cartID's next replica from the installed one (nil when the device
// has none); update saves the whole state with it, then installs it. build
// returns nil for no change (nothing is saved). On any error nothing is
// installed; the clock may have advanced, which is harmless.
func (d *Device) update(cartID string, build func(cur *replica) (*replica, error)) error {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	d.mu.Lock()
	next, err := build(d.carts[cartID])
	var b []byte
	if err == nil && next != nil {
		b, err = d.encodeLocked(cartID, next)
	}
	d.mu.Unlock()
	if err != nil || next == nil {
		return err
	}
	// Save with only writeMu held: readers go on, and no other change can
	// come between this state and its installation.
	if err := d.store.Save(b); err != nil {
		return fmt.Errorf("save device state: %w", err)
	}
	d.mu.Lock()
	d.carts[cartID] = next
	d.mu.Unlock()
	return nil
}

// View returns cart as this device sees it now: its own edits, synced or
// not, and what it has learned from nodes. An unknown cart is empty.
func (d *Device) View(cartID string) cart.View {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.carts[cartID]; r != nil {
		return r.cart.View()
	}
	return cart.New().View()
}

// Carts returns the IDs of the carts this device holds (edited or synced),
// sorted.
func (d *Device) Carts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Keys(d.carts))
}

// Pending returns how many of this device's edits of cart no node has
// acknowledged yet: the "3 changes waiting" an app shows while offline. It
// counts calls (an Add with a price is one), not what they changed, and
// drops to 0 when a Sync that carried them all succeeds.
func (d *Device) Pending(cartID string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.carts[cartID]; r != nil {
		return r.edits
	}
	return 0
}
