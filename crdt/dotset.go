package crdt

import "slices"

// DotSet is a set of dots: the dot store of an OR-Set element, which is
// present while at least one of its dots survives.
//
// The zero value is an empty set. A DotSet is not safe for concurrent use.
type DotSet struct {
	dots  dotList[struct{}]
	spare *spare // dots' room to grow, shared with every set sharing dots
}

// Add inserts d. It panics if d.Seq is not in 1..[MaxSeq], which no
// minted or decoded dot is.
func (s *DotSet) Add(d Dot) {
	s.dots, s.spare = s.dots.set(d, struct{}{}), nil // a new array, or dots unchanged
}

// Has reports whether d is in the set.
func (s DotSet) Has(d Dot) bool {
	_, ok := s.dots.find(d)
	return ok
}

// Len returns the number of dots.
func (s DotSet) Len() int { return s.dots.count() }

// MergeDots implements [DotStore].
func (s DotSet) MergeDots(ctx *CausalContext, o DotSet, octx *CausalContext) (DotSet, bool) {
	dots, sp, changed := s.dots.merge(ctx, o.dots, octx, s.spare)
	return DotSet{dots: dots, spare: sp}, changed
}

// MergesByCopy implements [MergesByCopy]: MergeDots returns a new set
// when anything changes, and appends in place only past the end of every
// set sharing its dots.
func (DotSet) MergesByCopy() {}

// EachDot implements [DotStore]. Dots come in canonical order.
func (s DotSet) EachDot(yield func(Dot) bool) {
	s.dots.dots(func(d Dot, _ struct{}) bool { return yield(d) })
}

// IsEmpty implements [DotStore].
func (s DotSet) IsEmpty() bool { return len(s.dots) == 0 }

// Clone implements [DotStore].
func (s DotSet) Clone() DotSet { return DotSet{dots: slices.Clone(s.dots)} }

// Equal implements [DotStore].
func (s DotSet) Equal(o DotSet) bool { return slices.Equal(s.dots, o.dots) }

// EncodeStore implements [DotStore].
func (s DotSet) EncodeStore(e *Encoder) {
	e.ArrayLen(s.dots.count())
	for _, r := range s.dots {
		e.dotRun(r.dot, r.n, nil)
	}
}

// DecodeStore implements [DotStore].
func (DotSet) DecodeStore(r *Reader) (DotSet, error) {
	n, err := r.ArrayLen(3)
	if err != nil {
		return DotSet{}, err
	}
	var s DotSet
	if n > 0 {
		s.dots = make(dotList[struct{}], 0, min(n, 4)) // runs may hold many dots each
	}
	for i := range n {
		d, err := r.Dot()
		if err != nil {
			return DotSet{}, err
		}
		if i > 0 && !s.dots.endsBefore(d) {
			return DotSet{}, r.corrupt("dot set not strictly sorted")
		}
		s.dots = s.dots.push(dotRun[struct{}]{dot: d, n: 1})
	}
	return s, nil
}
