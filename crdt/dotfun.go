package crdt

import (
	"maps"
	"slices"
)

// DotFun maps dots to immutable payloads: each entry is one event together
// with the value it carried (an increment, a timestamped assignment). It
// joins like a [DotSet] on its dots; a dot present on both sides carries the
// same payload on both, because payloads are fixed when the dot is made.
//
// The zero value is empty. A DotFun is not safe for concurrent use.
type DotFun[V Payload[V]] struct {
	m map[Dot]V
}

// Set maps d to v.
func (f *DotFun[V]) Set(d Dot, v V) {
	if f.m == nil {
		f.m = make(map[Dot]V, 1)
	}
	f.m[d] = v
}

// Get returns the payload of d.
func (f DotFun[V]) Get(d Dot) (V, bool) {
	v, ok := f.m[d]
	return v, ok
}

// Len returns the number of entries.
func (f DotFun[V]) Len() int { return len(f.m) }

// All calls yield for each entry, in no particular order.
func (f DotFun[V]) All(yield func(Dot, V) bool) {
	for d, v := range f.m {
		if !yield(d, v) {
			return
		}
	}
}

// MergeDots implements [DotStore].
func (f DotFun[V]) MergeDots(ctx *CausalContext, o DotFun[V], octx *CausalContext) (DotFun[V], bool) {
	changed := false
	for d := range f.m {
		if _, ok := o.m[d]; !ok && octx.Contains(d) {
			delete(f.m, d)
			changed = true
		}
	}
	for d, v := range o.m {
		if _, ok := f.m[d]; !ok && !ctx.Contains(d) {
			f.Set(d, v)
			changed = true
		}
	}
	return f, changed
}

// EachDot implements [DotStore].
func (f DotFun[V]) EachDot(yield func(Dot) bool) {
	for d := range f.m {
		if !yield(d) {
			return
		}
	}
}

// IsEmpty implements [DotStore].
func (f DotFun[V]) IsEmpty() bool { return len(f.m) == 0 }

// Clone implements [DotStore]. Payloads are immutable values, so a shallow
// copy of the map is a deep copy.
func (f DotFun[V]) Clone() DotFun[V] {
	if len(f.m) == 0 {
		return DotFun[V]{}
	}
	return DotFun[V]{m: maps.Clone(f.m)}
}

// Equal implements [DotStore].
func (f DotFun[V]) Equal(o DotFun[V]) bool { return maps.Equal(f.m, o.m) }

// EncodeStore implements [DotStore].
func (f DotFun[V]) EncodeStore(e *Encoder) {
	ds := slices.SortedFunc(maps.Keys(f.m), Dot.Compare)
	e.ArrayLen(2 * len(ds))
	for _, d := range ds {
		e.Dot(d)
		f.m[d].EncodePayload(e)
	}
}

// DecodeStore implements [DotStore].
func (DotFun[V]) DecodeStore(r *Reader) (DotFun[V], error) {
	n, err := r.ArrayLen(2)
	if err != nil {
		return DotFun[V]{}, err
	}
	if n%2 != 0 {
		return DotFun[V]{}, r.corrupt("dot function has odd length %d", n)
	}
	var f DotFun[V]
	var prev Dot
	var zero V
	for i := range n / 2 {
		d, err := r.Dot()
		if err != nil {
			return DotFun[V]{}, err
		}
		if i > 0 && prev.Compare(d) >= 0 {
			return DotFun[V]{}, r.corrupt("dot function not strictly sorted")
		}
		prev = d
		v, err := zero.DecodePayload(r)
		if err != nil {
			return DotFun[V]{}, err
		}
		f.Set(d, v)
	}
	return f, nil
}
