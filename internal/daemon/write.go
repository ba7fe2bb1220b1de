package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/internal/store"
)

// edit is one local change to a cart: it mutates c (a private copy) at
// timestamp ts and returns the delta.
type edit func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error)

// applyLocal runs one local write with the order DESIGN §7 requires:
// apply (to a copy) -> commit with fsync -> install in memory, acknowledge
// and broadcast. A delta never leaves the node before its commit, so a crash
// can never make the node hand an already-shipped dot to another change.
// respond builds the response body from the resulting view; it is stored
// with the idempotency key in the same transaction.
func (d *Daemon) applyLocal(ctx context.Context, id string, e edit, idemKey string, respond func(cart.View) ([]byte, error)) ([]byte, error) {
	d.awaitPeerClocks(ctx)
	o, next, seen := d.reg.lockForWrite(id)
	defer o.writeMu.Unlock()

	ts := d.clockNow()
	if err := d.checkLocalClock(ts); err != nil {
		d.reg.dropIfEmpty(id, o)
		return nil, err
	}
	delta, err := e(next, ts)
	if err != nil {
		d.reg.dropIfEmpty(id, o)
		return nil, err
	}
	body, err := respond(next.View())
	if err != nil {
		return nil, err
	}
	state, err := next.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode cart %s: %v", id, err)
	}
	deltaBytes, err := delta.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode delta %s: %v", id, err)
	}

	w := store.Write{Objects: map[string][]byte{cartKey(id): state}, HLC: uint64(ts.Wall)}
	if idemKey != "" {
		w.IdempotencyKey, w.IdempotencyResult = idemKey, body
	}
	start := time.Now()
	err = d.store.Commit(ctx, w)
	d.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, fmt.Errorf("commit cart %s: %w", id, err)
	}

	d.reg.mu.Lock()
	o.cart.Merge(delta)
	raced := o.remoteSeen != seen
	o.enc = nil
	if !raced {
		o.enc = state // without peers' changes in between, the cart is exactly next
	}
	if raced {
		// Peers' changes arrived while we committed our copy, which lacks
		// them: persist the merged cart again.
		d.reg.dirty[id] = struct{}{}
	}
	d.reg.mu.Unlock()
	if raced {
		d.persistSoon()
	}
	d.gossip.Publish(cartKey(id), deltaBytes, ts.Time())
	return body, nil
}
