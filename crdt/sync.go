package crdt

import (
	"fmt"
)

// This file holds what a sync between two replicas needs beyond Merge: the
// part of a state another replica lacks, given that replica's causal
// context, and the dots of one context that another has not seen.

// DeltaFor returns what a replica whose causal context is known needs
// from m to reach the join of its state and m: delta holds the entries
// whose dots known has not seen, with m's whole context (so removals reach
// the other replica), and seen holds the dots of m's entries that known
// has seen, which the other replica already has unless it removed them.
// The other replica merges both with [ORMap.MergeDeltaFor]; merging delta
// alone with Merge would drop the entries left out of it. Both cost one
// pass over m's dots, and together they are smaller than m by the payloads
// of every entry the other replica has seen.
func (m *ORMap[K, V]) DeltaFor(known *CausalContext) (delta *ORMap[K, V], seen CausalContext) {
	delta = &ORMap[K, V]{ctx: m.ctx.Clone()}
	var none CausalContext
	for k, vp := range m.entries {
		v := *vp
		// A store merged into an empty one keeps the dots the empty side's
		// context (known) has not seen: exactly the unseen entries.
		var zero V
		unseen, _ := zero.MergeDots(known, v, &none)
		for d := range v.EachDot {
			if known.Contains(d) {
				seen.Add(d)
			}
		}
		if unseen.IsEmpty() {
			continue
		}
		if delta.entries == nil {
			delta.entries = make(map[K]*V)
		}
		delta.entries[k] = &unseen
	}
	return delta, seen
}

// MergeDeltaFor merges what another replica's DeltaFor returned for this
// replica's context: it puts back into delta this replica's own entries
// whose dots the other replica still holds (seen), then merges. The result
// is the join of this replica and the other one's whole state, even when
// this replica changed since it sent its context. It reports whether m
// changed; delta is not modified.
func (m *ORMap[K, V]) MergeDeltaFor(delta *ORMap[K, V], seen *CausalContext) (changed bool) {
	full := delta.Clone()
	var none CausalContext
	for k, vp := range m.entries {
		v := *vp
		// The dots of v outside seen, as a context: filtering v by them
		// keeps exactly v's dots in seen.
		var outside CausalContext
		for d := range v.EachDot {
			if !seen.Contains(d) {
				outside.Add(d)
			}
		}
		var zero V
		kept, _ := zero.MergeDots(&outside, v, &none)
		if kept.IsEmpty() {
			continue
		}
		if full.entries == nil {
			full.entries = make(map[K]*V)
		}
		// A union: neither side's (empty) context removes anything.
		union, _ := kept.MergeDots(&none, full.get(k), &none)
		full.entries[k] = &union
	}
	return m.Merge(full)
}

// EachUnseen calls yield for every dot of c that known does not contain,
// replica by replica, stopping when yield returns false. It costs time in
// proportion to the dots it yields plus known's dot cloud, never to the
// size of the version vector ranges, so a context claiming a replica at a
// huge count is cheap to check: yield sees its first unseen dot at once.
func (c *CausalContext) EachUnseen(known *CausalContext, yield func(Dot) bool) {
	for _, e := range c.es {
		var k ctxEntry
		if ke := known.entry(e.r); ke != nil {
			k = *ke
		}
		for s := k.top + 1; s <= e.top; s++ {
			if k.contains(s) {
				continue
			}
			if !yield(Dot{Replica: e.r, Seq: s}) {
				return
			}
		}
		for _, s := range e.cloud {
			if k.contains(s) {
				continue
			}
			if !yield(Dot{Replica: e.r, Seq: s}) {
				return
			}
		}
	}
}

// MarshalBinary encodes the context alone, in the same canonical form as
// inside the encoding of a causal type.
func (c *CausalContext) MarshalBinary() ([]byte, error) {
	e := newEncoder()
	e.context(c)
	return e.bytes()
}

// UnmarshalBinary replaces c with the context encoded in b, with the same
// bounds and checks as every decoder here; on error c is unchanged.
func (c *CausalContext) UnmarshalBinary(b []byte) error {
	r, err := newReader("context", b)
	if err != nil {
		return err
	}
	out, err := r.context()
	if err == nil {
		err = r.done()
	}
	if err != nil {
		return fmt.Errorf("decode context: %w", err)
	}
	*c = out
	return nil
}

// Replicas returns how many replicas the context names.
func (c *CausalContext) Replicas() int { return len(c.es) }
