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
// timestamp ts and returns the delta. It may change only the item it was
// declared for (every item when that is empty; see carts.edit).
type edit func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error)

// applyLocal runs one local write in the order durability requires: apply (to
// a copy) -> log durably (fdatasync) -> install in memory, acknowledge and
// broadcast. A delta never leaves the node before it is on disk, so a crash
// can never make the node hand an already-shipped dot to another change.
// respond builds the response body from the resulting view, and the
// idempotency record that is logged with the key in the same log record.
//
// The log record is the delta alone, not the whole cart: the checkpointer
// later writes the cart's state to the data file and drops the log.
func (d *Daemon) applyLocal(ctx context.Context, id, item string, e edit, idemKey string, respond func(cart.View) (answer, idemRecord []byte, err error)) ([]byte, error) {
	d.guard.await(ctx)
	o, err := d.carts.lockForWrite(id)
	if err != nil {
		return nil, err
	}
	defer d.carts.unlockWrite(o)

	ts := d.clock.stamp()
	if err := d.guard.check(ts); err != nil {
		d.carts.dropIfEmpty(o)
		return nil, err
	}
	delta, view, ed, err := d.carts.edit(o, item, ts, e)
	if err != nil {
		d.carts.dropIfEmpty(o)
		return nil, err
	}
	if delta.IsEmpty() {
		// Nothing to change (a remove of an absent line, a clear of an
		// empty cart): nothing to log or send, and no empty cart to keep.
		// A key still binds to its request and answer, so that a retry
		// gets the same answer: that alone goes to the data file.
		d.carts.dropIfEmpty(o)
		body, idemRec, err := respond(view)
		if err != nil || idemKey == "" {
			return body, err
		}
		if err := d.store.Commit(ctx, store.Write{IdempotencyKey: idemKey, IdempotencyResult: idemRec}); err != nil {
			return nil, fmt.Errorf("store idempotency key of a change to cart %s: %w", id, err)
		}
		return body, nil
	}
	body, idemRec, err := respond(view)
	if err != nil {
		d.carts.dropIfEmpty(o)
		return nil, err
	}
	deltaBytes, err := delta.MarshalBinary()
	if err != nil {
		d.carts.dropIfEmpty(o)
		return nil, fmt.Errorf("encode delta %s: %v", id, err)
	}

	key := cartKey(id)
	rec := store.Record{Key: key, Delta: deltaBytes, HLC: uint64(ts.Wall)}
	if idemKey != "" {
		rec.IdempotencyKey, rec.IdempotencyResult = idemKey, idemRec
	}
	start := time.Now()
	release, err := d.store.Log(ctx, rec)
	d.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		d.carts.dropIfEmpty(o)
		return nil, fmt.Errorf("log change to cart %s: %w", id, err)
	}
	d.carts.install(o, delta, ed)
	release()
	d.checkpointIfLogFull()
	d.gossip.Publish(key, deltaBytes, ts.Time())
	return body, nil
}
