package crdt

import "fmt"

// ORSet is an add-wins observed-remove set without tombstones.
//
// Specification: over the causal history H a replica has seen, e is in the
// set iff some add(e) in H was not observed by any remove(e) in H. An add
// concurrent with a remove therefore wins; a remove wins only over the adds
// it saw.
//
// Each element carries the dots of the adds that made it present (one, after
// an add on a replica that already saw the others). A remove drops those
// dots from the store; the causal context still remembers them, so a late
// copy of the old add cannot bring the element back. Nothing else is kept
// for removed elements: no tombstones.
//
// The zero value is an empty set ready to use. An ORSet is not safe for
// concurrent use.
type ORSet[E Key] struct {
	m ORMap[E, DotSet]
}

// Add inserts e on behalf of replica id and returns the delta to ship. The
// new add supersedes the adds of e this replica has seen, so an element's
// metadata does not grow with repeated adds. It fails only with
// [ErrSeqExhausted], changing nothing.
func (s *ORSet[E]) Add(id ReplicaID, e E) (delta *ORSet[E], err error) {
	d, err := s.m.Update(id, e, func(cur DotSet, next func() Dot) Mutation[DotSet] {
		var mu Mutation[DotSet]
		mu.Add.Add(next())
		for d := range cur.EachDot {
			mu.Supersede = append(mu.Supersede, d)
		}
		return mu
	})
	if err != nil {
		return nil, err
	}
	return &ORSet[E]{m: *d}, nil
}

// Remove deletes e, superseding every add of e this replica has seen, and
// returns the delta. Adds it has not seen survive.
func (s *ORSet[E]) Remove(e E) (delta *ORSet[E]) {
	return &ORSet[E]{m: *s.m.Remove(e)}
}

// Clear removes every element this replica has seen and returns the delta.
func (s *ORSet[E]) Clear() (delta *ORSet[E]) {
	return &ORSet[E]{m: *s.m.Clear()}
}

// Contains reports whether e is in the set.
func (s *ORSet[E]) Contains(e E) bool { return s.m.Has(e) }

// Len returns the number of elements.
func (s *ORSet[E]) Len() int { return s.m.Len() }

// Elements returns the elements, sorted.
func (s *ORSet[E]) Elements() []E { return s.m.Keys() }

// Merge joins o (a delta or a full state) into s and reports whether s
// changed. o is not modified.
func (s *ORSet[E]) Merge(o *ORSet[E]) (changed bool) { return s.m.Merge(&o.m) }

// Clone returns a deep copy of s.
func (s *ORSet[E]) Clone() *ORSet[E] { return &ORSet[E]{m: *s.m.Clone()} }

// Equal reports whether s and o are the same state (elements, their dots
// and the causal context), which is stronger than holding the same
// elements.
func (s *ORSet[E]) Equal(o *ORSet[E]) bool { return s.m.Equal(&o.m) }

// Context returns a copy of the set's causal context.
func (s *ORSet[E]) Context() CausalContext { return s.m.Context() }

// MarshalBinary returns the canonical encoding of s.
func (s *ORSet[E]) MarshalBinary() ([]byte, error) { return s.m.MarshalBinary() }

// UnmarshalBinary replaces s with the state encoded in b, leaving s
// unchanged on error.
func (s *ORSet[E]) UnmarshalBinary(b []byte) error {
	var m ORMap[E, DotSet]
	if err := m.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("decode orset: %w", err)
	}
	s.m = m
	return nil
}
