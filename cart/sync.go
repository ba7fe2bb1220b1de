package cart

import (
	"fmt"

	"github.com/crdtd/crdtd/crdt"
)

// Context returns a copy of the cart's causal context: every change the
// cart has seen. A device sends it with each sync so that the node can
// answer with only what the device lacks.
func (c *Cart) Context() crdt.CausalContext { return c.m.Context() }

// DeltaFor returns what a replica whose causal context is known needs to
// reach the join of its cart and c: delta holds c's changes known has not
// seen, with c's whole context so that removals reach the other replica,
// and seen the changes of c's lines that known has seen. The other replica
// merges them with MergeDeltaFor; see crdt.ORMap.DeltaFor.
func (c *Cart) DeltaFor(known *crdt.CausalContext) (delta *Cart, seen crdt.CausalContext) {
	m, seen := c.m.DeltaFor(known)
	return &Cart{m: *m}, seen
}

// MergeDeltaFor merges what another replica's DeltaFor returned for this
// cart's context, and reports whether c changed. The result equals merging
// the other replica's whole cart.
func (c *Cart) MergeDeltaFor(delta *Cart, seen *crdt.CausalContext) (changed bool) {
	return c.m.MergeDeltaFor(&delta.m, seen)
}

// Changes reports whether merging delta into c would change c: delta
// brings a change c has not seen, or removes one c holds (a remove carries
// no new change, only the ones it removes). It is what Merge would report,
// without merging; c and delta are not modified.
func (c *Cart) Changes(delta *Cart) bool {
	known := c.m.Context()
	pushed := delta.m.Context()
	unseen := false
	pushed.EachUnseen(&known, func(crdt.Dot) bool {
		unseen = true
		return false
	})
	if unseen {
		return true
	}
	held := make(map[crdt.Dot]struct{})
	for _, k := range delta.m.Keys() {
		delta.m.Peek(k, func(l line) {
			for d := range l.EachDot {
				held[d] = struct{}{}
			}
		})
	}
	removes := false
	c.m.Each(func(_ string, l line) bool {
		for d := range l.EachDot {
			if _, ok := held[d]; !ok && pushed.Contains(d) {
				removes = true
				return false
			}
		}
		return true
	})
	return removes
}

// CheckPush checks a delta that replica from pushes to a replica holding c,
// before it is merged. Every change in it that c has not seen must be one
// of from's own: a change of another replica that the delta holds (an add
// or set it claims someone else made) is ErrForeignChanges; one it only
// names in its context (it removes or replaces something it learned
// elsewhere, which c has not seen yet) is ErrPushAhead, which a later retry
// clears. There may be at most MaxDots new changes, MaxLines lines in the
// delta, and crdt.MaxReplicas replicas in the cart's history
// (ErrPushTooLarge). c is not changed.
func (c *Cart) CheckPush(from crdt.ReplicaID, delta *Cart) error {
	if n := delta.m.Len(); n > MaxLines {
		return fmt.Errorf("%w: %d lines, limit %d", ErrPushTooLarge, n, MaxLines)
	}
	known := c.m.Context()
	pushed := delta.m.Context()
	var ahead, foreign *crdt.Dot
	fresh := 0
	pushed.EachUnseen(&known, func(d crdt.Dot) bool {
		if d.Replica != from && ahead == nil {
			ahead = &d
		}
		fresh++
		return fresh <= maxDots
	})
	if fresh > maxDots {
		return fmt.Errorf("%w: more than %d new changes", ErrPushTooLarge, maxDots)
	}
	if ahead != nil {
		// Held foreign dots are forged changes; named ones are removals of
		// changes this replica will see later.
		delta.m.Each(func(_ string, l line) bool {
			for d := range l.EachDot {
				if d.Replica != from && !known.Contains(d) {
					foreign = &d
					return false
				}
			}
			return true
		})
		if foreign != nil {
			return fmt.Errorf("%w: %v is not %s's, and this replica has not seen it", ErrForeignChanges, *foreign, from)
		}
		return fmt.Errorf("%w: %v", ErrPushAhead, *ahead)
	}
	known.Merge(&pushed)
	if n := known.Replicas(); n > crdt.MaxReplicas {
		return fmt.Errorf("%w: the cart's history would name %d replicas, limit %d", ErrPushTooLarge, n, crdt.MaxReplicas)
	}
	return nil
}
