package crdt

import (
	"maps"
	"slices"
)

// DotSet is a set of dots: the dot store of an OR-Set element, which is
// present while at least one of its dots survives.
//
// The zero value is an empty set. A DotSet is not safe for concurrent use.
type DotSet struct {
	dots map[Dot]struct{}
}

// Add inserts d.
func (s *DotSet) Add(d Dot) {
	if s.dots == nil {
		s.dots = make(map[Dot]struct{}, 1)
	}
	s.dots[d] = struct{}{}
}

// Has reports whether d is in the set.
func (s DotSet) Has(d Dot) bool {
	_, ok := s.dots[d]
	return ok
}

// Len returns the number of dots.
func (s DotSet) Len() int { return len(s.dots) }

// MergeDots implements [DotStore].
func (s DotSet) MergeDots(ctx *CausalContext, o DotSet, octx *CausalContext) (DotSet, bool) {
	changed := false
	for d := range s.dots {
		if _, ok := o.dots[d]; !ok && octx.Contains(d) {
			delete(s.dots, d)
			changed = true
		}
	}
	for d := range o.dots {
		if _, ok := s.dots[d]; !ok && !ctx.Contains(d) {
			s.Add(d)
			changed = true
		}
	}
	return s, changed
}

// EachDot implements [DotStore].
func (s DotSet) EachDot(yield func(Dot) bool) {
	for d := range s.dots {
		if !yield(d) {
			return
		}
	}
}

// IsEmpty implements [DotStore].
func (s DotSet) IsEmpty() bool { return len(s.dots) == 0 }

// Clone implements [DotStore].
func (s DotSet) Clone() DotSet {
	if len(s.dots) == 0 {
		return DotSet{}
	}
	return DotSet{dots: maps.Clone(s.dots)}
}

// Equal implements [DotStore].
func (s DotSet) Equal(o DotSet) bool { return maps.Equal(s.dots, o.dots) }

// EncodeStore implements [DotStore].
func (s DotSet) EncodeStore(e *Encoder) {
	ds := slices.SortedFunc(maps.Keys(s.dots), Dot.Compare)
	e.ArrayLen(len(ds))
	for _, d := range ds {
		e.Dot(d)
	}
}

// DecodeStore implements [DotStore].
func (DotSet) DecodeStore(r *Reader) (DotSet, error) {
	n, err := r.ArrayLen(3)
	if err != nil {
		return DotSet{}, err
	}
	var s DotSet
	var prev Dot
	for i := range n {
		d, err := r.Dot()
		if err != nil {
			return DotSet{}, err
		}
		if i > 0 && prev.Compare(d) >= 0 {
			return DotSet{}, r.corrupt("dot set not strictly sorted")
		}
		prev = d
		s.Add(d)
	}
	return s, nil
}
