package crdt

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
)

// dotRun is a run of one replica's dots with consecutive sequence numbers
// that carry one payload: dot.Seq, dot.Seq+1, ..., dot.Seq+n-1.
type dotRun[V comparable] struct {
	dot Dot    // the first
	n   uint64 // how many, at least 1
	val V
}

// last returns the sequence number of the run's last dot.
func (r dotRun[V]) last() uint64 { return r.dot.Seq + r.n - 1 }

// has reports whether d is one of the run's dots.
func (r dotRun[V]) has(d Dot) bool {
	return d.Replica == r.dot.Replica && d.Seq >= r.dot.Seq && d.Seq-r.dot.Seq < r.n
}

// joins reports whether s may be appended to r as one run: the same
// replica, the next sequence number, the same payload.
func (r dotRun[V]) joins(s dotRun[V]) bool {
	return s.dot.Replica == r.dot.Replica && s.dot.Seq == r.last()+1 && s.val == r.val
}

// dotList is the representation shared by DotSet and DotFun: runs sorted
// by first dot, disjoint, and maximal (two runs that could be one are
// one), so that equal stores have equal lists. Almost every store holds
// one to a handful of dots, for which a sorted slice is several times
// smaller and faster than a map, and the order is the canonical encoding
// order for free. A replica that adds to one store again and again (a
// cart line's adds, each +1) mints consecutive dots with equal payloads,
// which one run holds however many there are.
type dotList[V comparable] []dotRun[V]

// count returns the number of dots.
func (l dotList[V]) count() int {
	n := 0
	for _, r := range l {
		n += int(r.n)
	}
	return n
}

// find returns the index of the run holding d, or, if none does, the
// index at which a run starting at d would be inserted.
func (l dotList[V]) find(d Dot) (int, bool) {
	// A replica's next dot sorts after all of its own: an add to a line
	// of its adds looks at the last run only.
	if n := len(l); n > 0 && l[n-1].dot.Compare(d) <= 0 {
		if l[n-1].has(d) {
			return n - 1, true
		}
		return n, false
	}
	// i: the first run starting after d; the run before it may hold d.
	i, _ := slices.BinarySearchFunc(l, d, func(r dotRun[V], d Dot) int {
		if r.dot.Compare(d) <= 0 {
			return -1
		}
		return 1
	})
	if i > 0 && l[i-1].has(d) {
		return i - 1, true
	}
	return i, false
}

// endsBefore reports whether d sorts after every dot of l.
func (l dotList[V]) endsBefore(d Dot) bool {
	n := len(l)
	return n == 0 || Dot{Replica: l[n-1].dot.Replica, Seq: l[n-1].last()}.Compare(d) < 0
}

// push appends r to l, into l's last run if it joins it. It writes into
// l's array: only for a list being built.
func (l dotList[V]) push(r dotRun[V]) dotList[V] {
	if n := len(l); n > 0 && l[n-1].joins(r) {
		l[n-1].n += r.n
		return l
	}
	return append(l, r)
}

// set inserts or replaces d's entry. It changes nothing in l's array (l
// may share it with other stores): a change is made in a copy. It panics
// if d's sequence number is not in 1..MaxSeq, as no minted or decoded dot's
// is: the join's arithmetic on runs relies on it.
func (l dotList[V]) set(d Dot, v V) dotList[V] {
	if d.Seq == 0 || d.Seq > MaxSeq {
		panic(fmt.Sprintf("crdt: dot %v has a sequence number outside 1..%d", d, MaxSeq))
	}
	i, ok := l.find(d)
	if ok && l[i].val == v {
		return l
	}
	out := make(dotList[V], 0, len(l)+2)
	if !ok {
		out = append(out, l[:i]...)
		out = out.push(dotRun[V]{dot: d, n: 1, val: v})
		for _, r := range l[i:] {
			out = out.push(r)
		}
		return out
	}
	// d is in run i with another payload: split the run around it.
	r := l[i]
	out = append(out, l[:i]...)
	if d.Seq > r.dot.Seq {
		out = out.push(dotRun[V]{dot: r.dot, n: d.Seq - r.dot.Seq, val: r.val})
	}
	out = out.push(dotRun[V]{dot: d, n: 1, val: v})
	if d.Seq < r.last() {
		out = out.push(dotRun[V]{dot: Dot{Replica: d.Replica, Seq: d.Seq + 1}, n: r.last() - d.Seq, val: r.val})
	}
	for _, r := range l[i+1:] {
		out = out.push(r)
	}
	return out
}

// dots calls yield for every dot, in order.
func (l dotList[V]) dots(yield func(Dot, V) bool) {
	for _, r := range l {
		for k := range r.n {
			if !yield(Dot{Replica: r.dot.Replica, Seq: r.dot.Seq + k}, r.val) {
				return
			}
		}
	}
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

// smallDelta is the most dots a delta and its context may hold for
// mergeSmallDelta to look them up one by one instead of walking l.
const smallDelta = 8

// mergeSmallDelta is merge for the common shape of a local write: a list
// l joined with a delta whose context holds a few dots (an add: its own
// dot). Then the only entries of l that the join can remove are those
// octx holds, so it looks those up instead of asking octx about every run
// of l. A dot that extends l's last run lengthens it in a copy of l; new
// runs that all sort after l's last, and do not extend it, are appended in
// place when sp grants the room; otherwise they are inserted into one copy
// of l, built with room to grow. ok is false when the shape
// does not fit (l empty, o or octx large, or an entry of l removed) and
// merge must walk both lists.
func (l dotList[V]) mergeSmallDelta(ctx *CausalContext, o dotList[V], octx *CausalContext, sp *spare) (out dotList[V], outSpare *spare, changed, ok bool) {
	if len(l) == 0 || !octx.sizeAtMost(smallDelta) || len(o) > smallDelta || o.count() > smallDelta {
		return nil, nil, false, false
	}
	for d := range octx.Dots {
		if _, ours := l.find(d); ours {
			if _, theirs := o.find(d); !theirs {
				return nil, nil, false, false
			}
		}
	}
	// Every entry of l survives; add those of o that are new to l and
	// that ctx has not seen (removed).
	var room [smallDelta]dotRun[V]
	fresh := dotList[V](room[:0])
	for d, v := range o.dots {
		if _, ours := l.find(d); !ours && !ctx.Contains(d) {
			fresh = fresh.push(dotRun[V]{dot: d, n: 1, val: v})
		}
	}
	if len(fresh) == 0 {
		return l, sp, false, true
	}
	end := l[len(l)-1]
	if end.dot.Compare(fresh[0].dot) < 0 {
		if len(fresh) == 1 && end.joins(fresh[0]) {
			// The next dot of the last run (a replica's next add of
			// the same amount): a copy of the runs, the last longer.
			// Room to grow would be of no use to the next such add.
			out = slices.Clone(l)
			out[len(out)-1].n += fresh[0].n
			return out, nil, true, true
		}
		if !end.joins(fresh[0]) && sp.claim(len(l), cap(l)-len(l), len(fresh)) {
			return append(l, fresh...), sp, true, true
		}
	}
	n := len(l) + len(fresh)
	out = make(dotList[V], 0, n+n/2)
	rest := l
	for _, f := range fresh {
		at, _ := rest.find(f.dot)
		for _, r := range rest[:at] {
			out = out.push(r)
		}
		out = out.push(f)
		rest = rest[at:]
	}
	for _, r := range rest {
		out = out.push(r)
	}
	return out, newSpare(len(out)), true, true
}

// mergeAll is merge by walking both lists, replica by replica. It walks
// once to learn whether anything changes, and builds the join in a second
// walk only if so.
func (l dotList[V]) mergeAll(ctx *CausalContext, o dotList[V], octx *CausalContext) (dotList[V], bool) {
	if !join(l, ctx, o, octx, nil) {
		return l, false
	}
	out := make(dotList[V], 0, len(l)+len(o))
	join(l, ctx, o, octx, func(r dotRun[V]) { out = out.push(r) })
	return out, true
}

// join walks the causal join of (l, ctx) and (o, octx) and reports whether
// it differs from l. If emit is not nil, it calls emit with the join's
// dots in order, as runs that may need pushing together.
func join[V comparable](l dotList[V], ctx *CausalContext, o dotList[V], octx *CausalContext, emit func(dotRun[V])) bool {
	changed := false
	for len(l) > 0 || len(o) > 0 {
		var r ReplicaID
		switch {
		case len(l) == 0:
			r = o[0].dot.Replica
		case len(o) == 0:
			r = l[0].dot.Replica
		default:
			r = min(l[0].dot.Replica, o[0].dot.Replica)
		}
		i, j := replicaEnd(l, r), replicaEnd(o, r)
		if joinReplica(l[:i], ctx.entry(r), o[:j], octx.entry(r), emit) {
			changed = true
			if emit == nil {
				return true
			}
		}
		l, o = l[i:], o[j:]
	}
	return changed
}

// replicaEnd returns how many of l's leading runs are r's.
func replicaEnd[V comparable](l dotList[V], r ReplicaID) int {
	i := 0
	for i < len(l) && l[i].dot.Replica == r {
		i++
	}
	return i
}

// joinReplica is join for the runs of one replica: l's and o's, with the
// entries of that replica in ctx and octx (nil if absent). It walks the
// sequence numbers the runs cover in segments over which nothing changes:
// in l or not, in o or not, seen by each context or not.
func joinReplica[V comparable](l []dotRun[V], ce *ctxEntry, o []dotRun[V], oce *ctxEntry, emit func(dotRun[V])) bool {
	changed := false
	var s uint64 // the next sequence number to decide
	for {
		for len(l) > 0 && l[0].last() < s {
			l = l[1:]
		}
		for len(o) > 0 && o[0].last() < s {
			o = o[1:]
		}
		if len(l) == 0 && len(o) == 0 {
			return changed
		}
		// end: the last sequence number of the segment starting at s.
		next := uint64(math.MaxUint64) // the first run start after s
		inL := len(l) > 0 && l[0].dot.Seq <= s
		if len(l) > 0 && !inL {
			next = l[0].dot.Seq
		}
		inO := len(o) > 0 && o[0].dot.Seq <= s
		if len(o) > 0 && !inO {
			next = min(next, o[0].dot.Seq)
		}
		if !inL && !inO {
			s = next
			continue
		}
		end := next - 1
		if inL {
			end = min(end, l[0].last())
		}
		if inO {
			end = min(end, o[0].last())
		}
		var keep *dotRun[V]
		switch {
		case inL && inO: // on both sides: keep ours
			keep = &l[0]
		case inL: // only ours: removed if they have seen it
			seen, e := seenUntil(oce, s)
			end = min(end, e)
			if seen {
				changed = true
			} else {
				keep = &l[0]
			}
		default: // only theirs: new to us unless we have seen (removed) it
			seen, e := seenUntil(ce, s)
			end = min(end, e)
			if !seen {
				changed = true
				keep = &o[0]
			}
		}
		if changed && emit == nil {
			return true
		}
		if keep != nil && emit != nil {
			emit(dotRun[V]{dot: Dot{Replica: keep.dot.Replica, Seq: s}, n: end - s + 1, val: keep.val})
		}
		s = end + 1
	}
}

// seenUntil reports whether the context entry e (nil: none) holds seq s,
// and the last sequence number up to which that answer holds unchanged.
func seenUntil(e *ctxEntry, s uint64) (seen bool, end uint64) {
	if e == nil {
		return false, math.MaxUint64
	}
	if s <= e.top {
		return true, e.top
	}
	k, found := slices.BinarySearch(e.cloud, s)
	switch {
	case found:
		return true, s
	case k < len(e.cloud):
		return false, e.cloud[k] - 1
	default:
		return false, math.MaxUint64
	}
}
