package cart

import (
	"math/bits"

	"github.com/crdtd/crdtd/crdt"
)

// line is the dot store of one item: the increments not yet absorbed by a
// set or remove, the surviving quantity assignments, and the surviving price
// assignments. All three share the cart's causal context.
type line struct {
	incs   crdt.DotFun[increment]
	sets   crdt.DotFun[assignment]
	prices crdt.DotFun[pricing]
	// added is the sum of incs, kept beside them: a line gains a dot with
	// every add until a set or remove absorbs them, and an add reads the
	// quantity twice (its overflow check, the view), which would otherwise
	// walk them all each time. Every change of incs updates it: Set's
	// callers (setIncrement), MergeDots, Clone, DecodeStore.
	added tally
}

// tally is a sum of increments that remembers an overflow.
type tally struct {
	sum  uint64
	over bool // the true sum exceeds what uint64 holds
}

func (t tally) plus(u tally) tally {
	s, carry := bits.Add64(t.sum, u.sum, 0)
	return tally{sum: s, over: t.over || u.over || carry != 0}
}

// tallyOf sums f's increments, a run of equal ones at a time.
func tallyOf(f crdt.DotFun[increment]) tally {
	var t tally
	for r := range f.Runs {
		hi, lo := bits.Mul64(r.N, uint64(r.Val))
		t = t.plus(tally{sum: lo, over: hi != 0})
	}
	return t
}

// setIncrement maps d to n in l's increments.
func (l *line) setIncrement(d crdt.Dot, n increment) {
	l.incs.Set(d, n)
	l.added = tallyOf(l.incs)
}

// quantity evaluates the line per the specification: the base set by the
// greatest surviving assignment (0 if none) plus every surviving increment.
// ok is false if the sum overflows, which only merged state from many
// replicas can cause.
func (l line) quantity() (q uint64, ok bool) {
	var best stamp
	found := false
	for d, a := range l.sets.All {
		s := stampOf(d, a.wall, a.logical)
		if !found || s.after(best) {
			best, q, found = s, a.q, true
		}
	}
	t := tally{sum: q}.plus(l.added)
	return t.sum, !t.over
}

// price returns the unit price of the greatest surviving price assignment.
// dots returns how many dots the line holds.
func (l line) dots() int { return l.incs.Len() + l.sets.Len() + l.prices.Len() }

func (l line) price() (cents int64, known bool) {
	var best stamp
	found := false
	for d, p := range l.prices.All {
		s := stampOf(d, p.wall, p.logical)
		if !found || s.after(best) {
			best, cents, found = s, p.cents, true
		}
	}
	return cents, found
}

// latest returns the greatest timestamp carried by the line.
func (l line) latest() crdt.Timestamp {
	var t crdt.Timestamp
	for d, a := range l.sets.All {
		if s := stampOf(d, a.wall, a.logical); s.ts.After(t) {
			t = s.ts
		}
	}
	for d, p := range l.prices.All {
		if s := stampOf(d, p.wall, p.logical); s.ts.After(t) {
			t = s.ts
		}
	}
	return t
}

// stamp orders assignments: by HLC timestamp, and by dot should a caller
// ever reuse one timestamp for two assignments.
type stamp struct {
	ts  crdt.Timestamp
	dot crdt.Dot
}

func stampOf(d crdt.Dot, wall int64, logical uint32) stamp {
	return stamp{ts: crdt.Timestamp{Wall: wall, Logical: logical, Replica: d.Replica}, dot: d}
}

func (s stamp) after(o stamp) bool {
	if c := s.ts.Compare(o.ts); c != 0 {
		return c > 0
	}
	return s.dot.Compare(o.dot) > 0
}

// MergeDots implements crdt.DotStore.
func (l line) MergeDots(ctx *crdt.CausalContext, o line, octx *crdt.CausalContext) (line, bool) {
	var a, b, c bool
	n := l.incs.Len()
	l.incs, a = l.incs.MergeDots(ctx, o.incs, octx)
	switch {
	case !a: // the same increments: the same sum
	case l.incs.Len() == n+o.incs.Len():
		// Every dot of o is new to l and l lost none: the sums add. (A
		// dot in both, one o drops from l, or one of o's that l already
		// dropped makes the merge shorter.)
		l.added = l.added.plus(o.added)
	default:
		l.added = tallyOf(l.incs)
	}
	l.sets, b = l.sets.MergeDots(ctx, o.sets, octx)
	l.prices, c = l.prices.MergeDots(ctx, o.prices, octx)
	return l, a || b || c
}

// MergesByCopy implements crdt.MergesByCopy: MergeDots merges each field
// by copy, so lines are shared between a cart and its copies.
func (line) MergesByCopy() {}

// Has implements crdt.DotLookup: a set or remove of a line of many adds
// checks its superseded dots with it.
func (l line) Has(d crdt.Dot) bool { return l.incs.Has(d) || l.sets.Has(d) || l.prices.Has(d) }

// EachDot implements crdt.DotStore.
func (l line) EachDot(yield func(crdt.Dot) bool) {
	for d := range l.incs.EachDot {
		if !yield(d) {
			return
		}
	}
	for d := range l.sets.EachDot {
		if !yield(d) {
			return
		}
	}
	for d := range l.prices.EachDot {
		if !yield(d) {
			return
		}
	}
}

// IsEmpty implements crdt.DotStore.
func (l line) IsEmpty() bool { return l.incs.IsEmpty() && l.sets.IsEmpty() && l.prices.IsEmpty() }

// Clone implements crdt.DotStore.
func (l line) Clone() line {
	return line{incs: l.incs.Clone(), sets: l.sets.Clone(), prices: l.prices.Clone(), added: l.added}
}

// Equal implements crdt.DotStore.
func (l line) Equal(o line) bool {
	return l.incs.Equal(o.incs) && l.sets.Equal(o.sets) && l.prices.Equal(o.prices)
}

// EncodeStore implements crdt.DotStore.
func (l line) EncodeStore(e *crdt.Encoder) {
	e.ArrayLen(3)
	l.incs.EncodeStore(e)
	l.sets.EncodeStore(e)
	l.prices.EncodeStore(e)
}

// DecodeStore implements crdt.DotStore.
func (line) DecodeStore(r *crdt.Reader) (line, error) {
	n, err := r.ArrayLen(1)
	if err != nil {
		return line{}, err
	}
	if n != 3 {
		return line{}, errCorrupt("line has %d fields, want 3", n)
	}
	var l line
	if l.incs, err = l.incs.DecodeStore(r); err != nil {
		return line{}, err
	}
	l.added = tallyOf(l.incs)
	if l.sets, err = l.sets.DecodeStore(r); err != nil {
		return line{}, err
	}
	if l.prices, err = l.prices.DecodeStore(r); err != nil {
		return line{}, err
	}
	return l, nil
}
