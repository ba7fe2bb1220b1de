package device

import (
	"context"
	"errors"
	"fmt"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/client"
)

// ErrReplicaReused is wrapped by the error of a Sync whose node has seen
// more changes of this device's replica ID than the device ever made: its
// state was restored from an older copy, or the same state is in use on two
// machines. Either way the device has minted changes under identities
// (dots) it had already used, and a node keeps only the first change of
// each: some edits are lost. The device does not merge that answer and
// keeps its pending changes; start a new device (a new storage) for this
// machine.
var ErrReplicaReused = errors.New("device replica ID reused")

// Sync exchanges cart's changes with the node c talks to: it sends the
// device's pending changes and causal context, merges the node's answer
// (what the device lacks), and then drops exactly the pending changes it
// sent, since a 200 answer means the node has made them durable. Edits made
// while the request was in flight stay pending for the next Sync.
//
// Sending the same changes again, to this node or any other, is safe:
// each change carries this device's identity and sequence number, and a
// replica that has one merges it as a no-op. So on any error every pending
// change is kept: an error wrapping client.ErrUnreachable (the node did not
// answer, or its answer was lost), a [*client.APIError] (a push the node
// refused), or an answer that does not decode. Sync creates cart's replica
// when the device has none, so it also opens a cart edited elsewhere.
func (d *Device) Sync(ctx context.Context, c *client.Client, cartID string) error {
	if err := client.ValidateID(cartID); err != nil {
		return err
	}
	body, sent, err := d.syncRequest(cartID)
	if err != nil {
		return err
	}
	answer, err := c.Sync(ctx, cartID, body)
	if err != nil {
		return err
	}
	var resp cart.SyncResponse
	if err := resp.UnmarshalBinary(answer); err != nil {
		return fmt.Errorf("sync cart %s: the node's answer: %w", cartID, err)
	}
	return d.update(cartID, func(cur *replica) (*replica, error) {
		c := cart.New()
		var pending []batch
		if cur != nil {
			if has, own := resp.Delta.MaxSeq(d.id), cur.cart.MaxSeq(d.id); has > own {
				return nil, fmt.Errorf("sync cart %s: %w: the node has seen change %d of %s, this device has made %d",
					cartID, ErrReplicaReused, has, d.id, own)
			}
			c = cur.cart.Clone()
			pending = cur.pending
		} else if has := resp.Delta.MaxSeq(d.id); has > 0 {
			return nil, fmt.Errorf("sync cart %s: %w: the node has seen change %d of %s, this device none",
				cartID, ErrReplicaReused, has, d.id)
		}
		// The answer is the node's state less what the device already has;
		// merged into the current cart (which may hold edits made since
		// the request left) it gives the join of both.
		changed := c.MergeDeltaFor(resp.Delta, &resp.Seen)
		if latest := resp.Delta.Latest(); !latest.IsZero() {
			d.clock.Observe(latest) // later edits order after what the node had
		}
		kept := dropAcked(pending, sent)
		if cur != nil && !changed && len(kept) == len(pending) {
			return nil, nil // nothing learned, nothing acknowledged: no write
		}
		return newReplica(cartID, c, kept)
	})
}

// syncRequest encodes the sync request for cartID: the cart's causal
// context and the join of its pending batches. It seals the batches it
// sends (no later edit joins them) and returns the last one's ID (0 for
// none): a 200 answer acknowledges exactly the batches up to it.
func (d *Device) syncRequest(cartID string) (body []byte, sent uint64, err error) {
	// writeMu keeps the snapshot from falling between a change's build and
	// its install: an edit built into the last batch before the seal, then
	// installed after it, would be acknowledged without having been sent.
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	req := cart.SyncRequest{Device: d.id, Delta: cart.New()}
	if r := d.carts[cartID]; r != nil {
		req.Context = r.cart.Context()
		switch len(r.pending) {
		case 0:
		case 1:
			req.Delta = r.pending[0].delta
		default:
			for _, b := range r.pending {
				req.Delta.Merge(b.delta)
			}
		}
		if n := len(r.pending); n > 0 {
			sent = r.pending[n-1].id
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

// dropAcked returns the batches after the acknowledged ones: those
// with an ID above sent. Batch IDs grow along the slice.
func dropAcked(pending []batch, sent uint64) []batch {
	for i, b := range pending {
		if b.id > sent {
			return pending[i:]
		}
	}
	return nil
}

// SyncAll syncs every cart the device holds with the node c talks to, in
// the order of [Device.Carts]. It goes on after a cart's error, except
// when the node is unreachable or ctx ends, when the other carts would
// fare no better, and returns the errors joined.
func (d *Device) SyncAll(ctx context.Context, c *client.Client) error {
	var errs []error
	for _, id := range d.Carts() {
		err := d.Sync(ctx, c, id)
		if err == nil {
			continue
		}
		errs = append(errs, err)
		if errors.Is(err, client.ErrUnreachable) || ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}
