package crdt

import (
	"slices"
	"sync/atomic"
)

// dotEntry is one dot with its payload.
type dotEntry[V comparable] struct {
	dot Dot
	val V
}

// dotList is the representation shared by DotSet and DotFun: entries
// sorted by dot. Almost every store holds one to a handful of dots, for
// which a sorted slice is several times smaller and faster than a map, and
// the order is the canonical encoding order for free.
type dotList[V comparable] []dotEntry[V]

func (l dotList[V]) find(d Dot) (int, bool) {
	// A replica's next dot sorts after all of its own: an add to a line
	// of its adds looks past the end, and that takes one comparison.
	if n := len(l); n > 0 && l[n-1].dot.Compare(d) < 0 {
		return n, false
	}
	return slices.BinarySearchFunc(l, d, func(e dotEntry[V], d Dot) int { return e.dot.Compare(d) })
}

// set inserts or replaces d's entry. It changes nothing in l's array (l
// may share it with other stores): a change is made in a copy.
func (l dotList[V]) set(d Dot, v V) dotList[V] {
	i, ok := l.find(d)
	if ok {
		if l[i].val == v {
			return l
		}
		l = slices.Clone(l)
		l[i].val = v
		return l
	}
	return slices.Insert(slices.Clip(l), i, dotEntry[V]{d, v})
}

// merge returns the causal join of (l, ctx) and (o, octx): entries on both
// sides survive, and an entry on one side survives if the other side's
// context has not seen its dot. It never aliases o, returns l itself when
// nothing changed, and never writes where l or another list sharing its
// array can read: it appends in place only past the end of every such
// list, as sp (nil: l has no room of its own) says, and returns the spare
// of the list it returns.
func (l dotList[V]) merge(ctx *CausalContext, o dotList[V], octx *CausalContext, sp *spare) (dotList[V], *spare, bool) {
	if out, outSpare, changed, ok := l.mergeSmallDelta(ctx, o, octx, sp); ok {
		return out, outSpare, changed
	}
	out, changed := l.mergeAll(ctx, o, octx)
	if !changed {
		return l, sp, false
	}
	return out, nil, true
}

// spare says how much of a list's backing array is in use, for a list
// built with room to grow. Lists that share the array (a store shared
// between a map and its copies) hold the same spare; one may append in
// place only where the array's use ends, and claims the room first, so
// that an append never writes where another list can read, and of two
// lists of the same length only the first to claim appends in place.
type spare struct{ used atomic.Int64 }

func newSpare(used int) *spare {
	sp := &spare{}
	sp.used.Store(int64(used))
	return sp
}

// claim reports whether l may append n entries in place, and if so claims
// the room for them.
func (sp *spare) claim(l int, room int, n int) bool {
	return sp != nil && room >= n && sp.used.CompareAndSwap(int64(l), int64(l+n))
}

// smallDelta is the most dots a context may hold for mergeSmallDelta to
// look them up one by one instead of walking l.
const smallDelta = 8

// mergeSmallDelta is merge for the common shape of a local write: a long
// list l joined with a delta whose context holds a few dots (an add: its
// own dot). Then the only entries of l that the join can remove are those
// octx holds, so it looks those up instead of asking octx about every entry
// of l. New entries that all sort after l's last are appended in place when
// sp grants the room; otherwise they are inserted into one copy of l, built
// with room to grow. ok is false when the shape does not fit (l short, octx
// large, or an entry of l removed) and merge must walk both lists.
func (l dotList[V]) mergeSmallDelta(ctx *CausalContext, o dotList[V], octx *CausalContext, sp *spare) (out dotList[V], outSpare *spare, changed, ok bool) {
	if len(l) < 4*smallDelta || !octx.sizeAtMost(smallDelta) {
		return nil, nil, false, false
	}
	removes := func(d Dot) bool {
		_, ours := l.find(d)
		_, theirs := o.find(d)
		return ours && !theirs
	}
	for d := range octx.Dots {
		if removes(d) {
			return nil, nil, false, false
		}
	}
	// Every entry of l survives; add those of o that are new to l and
	// that ctx has not seen (removed).
	var room [smallDelta]int
	fresh := room[:0] // positions in o, ascending
	for j, e := range o {
		if _, ours := l.find(e.dot); !ours && !ctx.Contains(e.dot) {
			fresh = append(fresh, j)
		}
	}
	if len(fresh) == 0 {
		return l, sp, false, true
	}
	if l[len(l)-1].dot.Compare(o[fresh[0]].dot) < 0 && sp.claim(len(l), cap(l)-len(l), len(fresh)) {
		for _, j := range fresh {
			l = append(l, o[j])
		}
		return l, sp, true, true
	}
	n := len(l) + len(fresh)
	out = make(dotList[V], 0, n+n/2)
	rest := l
	for _, j := range fresh {
		at, _ := rest.find(o[j].dot)
		out = append(append(out, rest[:at]...), o[j])
		rest = rest[at:]
	}
	out = append(out, rest...)
	return out, newSpare(len(out)), true, true
}

// mergeAll is merge by walking both lists.
func (l dotList[V]) mergeAll(ctx *CausalContext, o dotList[V], octx *CausalContext) (dotList[V], bool) {
	var out dotList[V]
	changed := false
	// begin switches to building a fresh slice, copying the prefix kept
	// unchanged so far.
	begin := func(i int) {
		if !changed {
			changed = true
			out = make(dotList[V], i, len(l)+len(o))
			copy(out, l[:i])
		}
	}
	seen, oseen := contextReader{c: ctx}, contextReader{c: octx}
	i, j := 0, 0
	for i < len(l) || j < len(o) {
		var c int
		switch {
		case i == len(l):
			c = 1
		case j == len(o):
			c = -1
		default:
			c = l[i].dot.Compare(o[j].dot)
		}
		switch {
		case c == 0: // on both sides: keep ours
			if changed {
				out = append(out, l[i])
			}
			i++
			j++
		case c < 0: // only ours: removed if they have seen it
			if oseen.contains(l[i].dot) {
				begin(i)
			} else if changed {
				out = append(out, l[i])
			}
			i++
		default: // only theirs: new to us unless we have seen (removed) it
			if !seen.contains(o[j].dot) {
				begin(i)
				out = append(out, o[j])
			}
			j++
		}
	}
	if !changed {
		return l, false
	}
	return out, true
}

// contextReader answers Contains for a context that does not change while
// it is used, looking each replica up once per run of its dots: a dot list
// is sorted by replica, so a merge asks about one replica's dots in a row,
// and a line of a cart holds mostly one replica's adds.
type contextReader struct {
	c     *CausalContext
	r     ReplicaID
	valid bool      // r and e are r's
	e     *ctxEntry // r's entry in c, nil if c has none
}

func (cr *contextReader) contains(d Dot) bool {
	if !cr.valid || d.Replica != cr.r {
		cr.r, cr.e, cr.valid = d.Replica, cr.c.entry(d.Replica), true
	}
	if cr.e == nil {
		return d.Seq == 0
	}
	return cr.e.contains(d.Seq)
}
