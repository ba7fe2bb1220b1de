package crdt

import "slices"

// DotFun maps dots to immutable payloads: each entry is one event together
// with the value it carried (an increment, a timestamped assignment). It
// joins like a [DotSet] on its dots; a dot present on both sides carries the
// same payload on both, because payloads are fixed when the dot is made.
//
// The zero value is empty. A DotFun is not safe for concurrent use.
type DotFun[V Payload[V]] struct {
	m     dotList[V]
	spare *spare // m's room to grow, shared with every store sharing m
}

// Set maps d to v. It panics if d.Seq is not in 1..[MaxSeq], which no
// minted or decoded dot is.
func (f *DotFun[V]) Set(d Dot, v V) {
	f.m, f.spare = f.m.set(d, v), nil // a new array, or m unchanged
}

// Get returns the payload of d.
func (f DotFun[V]) Get(d Dot) (V, bool) {
	if i, ok := f.m.find(d); ok {
		return f.m[i].val, true
	}
	var zero V
	return zero, false
}

// Has reports whether f holds d ([DotLookup]).
func (f DotFun[V]) Has(d Dot) bool {
	_, ok := f.m.find(d)
	return ok
}

// Len returns the number of entries.
func (f DotFun[V]) Len() int { return f.m.count() }

// All calls yield for each entry, in canonical (dot) order.
func (f DotFun[V]) All(yield func(Dot, V) bool) { f.m.dots(yield) }

// Run is a run of entries of a [DotFun]: N consecutive dots of one replica,
// First, First+1, ..., that carry the same payload Val.
type Run[V any] struct {
	First Dot
	N     uint64
	Val   V
}

// Runs calls yield for each run of entries, in canonical (dot) order, each
// run as long as it can be: a DotFun keeps its entries so. A replica that
// maps its dots one after another to one payload (a line's adds of one
// each) makes one run, which Runs visits once where All visits every
// entry.
func (f DotFun[V]) Runs(yield func(Run[V]) bool) {
	for _, r := range f.m {
		if !yield(Run[V]{First: r.dot, N: r.n, Val: r.val}) {
			return
		}
	}
}

// MergeDots implements [DotStore].
func (f DotFun[V]) MergeDots(ctx *CausalContext, o DotFun[V], octx *CausalContext) (DotFun[V], bool) {
	m, sp, changed := f.m.merge(ctx, o.m, octx, f.spare)
	return DotFun[V]{m: m, spare: sp}, changed
}

// MergesByCopy implements [MergesByCopy]: MergeDots returns a new store
// when anything changes, and appends in place only past the end of every
// store sharing its entries.
func (DotFun[V]) MergesByCopy() {}

// EachDot implements [DotStore]. Dots come in canonical order.
func (f DotFun[V]) EachDot(yield func(Dot) bool) {
	f.m.dots(func(d Dot, _ V) bool { return yield(d) })
}

// IsEmpty implements [DotStore].
func (f DotFun[V]) IsEmpty() bool { return len(f.m) == 0 }

// Clone implements [DotStore]. Payloads are immutable values, so copying
// the entries is a deep copy.
func (f DotFun[V]) Clone() DotFun[V] { return DotFun[V]{m: slices.Clone(f.m)} }

// Equal implements [DotStore].
func (f DotFun[V]) Equal(o DotFun[V]) bool { return slices.Equal(f.m, o.m) }

// EncodeStore implements [DotStore].
func (f DotFun[V]) EncodeStore(e *Encoder) {
	e.ArrayLen(2 * f.m.count())
	for _, r := range f.m {
		if r.n == 1 {
			e.Dot(r.dot)
			r.val.EncodePayload(e)
			continue
		}
		start := len(e.b)
		r.val.EncodePayload(e)
		e.pay = append(e.pay[:0], e.b[start:]...)
		e.b = e.b[:start]
		e.dotRun(r.dot, r.n, e.pay)
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
	if n > 0 {
		f.m = make(dotList[V], 0, min(n/2, 4)) // runs may hold many entries each
	}
	var zero V
	for i := range n / 2 {
		d, err := r.Dot()
		if err != nil {
			return DotFun[V]{}, err
		}
		if i > 0 && !f.m.endsBefore(d) {
			return DotFun[V]{}, r.corrupt("dot function not strictly sorted")
		}
		v, err := zero.DecodePayload(r)
		if err != nil {
			return DotFun[V]{}, err
		}
		f.m = f.m.push(dotRun[V]{dot: d, n: 1, val: v})
	}
	return f, nil
}
