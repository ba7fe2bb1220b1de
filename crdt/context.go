package crdt

import (
	"fmt"
	"slices"
)

// CausalContext is the set of dots a replica has seen, kept compact as a
// version vector plus a dot cloud.
//
// The version vector maps each replica r to n when every dot r:1 ... r:n is
// in the context. Dots that arrived out of order, beyond that contiguous
// prefix, wait in the cloud until the gap before them fills, then move into
// the vector (compaction). Out-of-order delivery of deltas is therefore safe:
// a context never claims a dot it has not seen.
//
// Both are kept in sorted slices, one entry per replica, in the order the
// encoding writes them: a context names a handful of replicas (the node,
// the devices of one cart's owner), and most hold one dot (a delta's) or no
// cloud at all, so a slice is one allocation where maps were several, and
// encoding needs no sort.
//
// The zero value is an empty context ready to use. A CausalContext is not
// safe for concurrent use.
type CausalContext struct {
	es []ctxEntry // sorted by replica, none empty
}

// ctxEntry is one replica's dots in a context: 1 ... top, and the cloud.
type ctxEntry struct {
	r     ReplicaID
	top   uint64
	cloud []uint64 // sorted, each above top + 1; never shared between contexts
}

// contains reports whether seq is among e's dots.
func (e *ctxEntry) contains(seq uint64) bool {
	if seq <= e.top {
		return true
	}
	_, ok := slices.BinarySearch(e.cloud, seq)
	return ok
}

// max returns e's highest sequence number.
func (e *ctxEntry) max() uint64 {
	if n := len(e.cloud); n > 0 {
		return e.cloud[n-1]
	}
	return e.top
}

// compact moves cloud dots that extend the contiguous prefix into top and
// drops cloud dots top already covers.
func (e *ctxEntry) compact() {
	i := 0
	for i < len(e.cloud) && e.cloud[i] <= e.top+1 {
		e.top = max(e.top, e.cloud[i])
		i++
	}
	if i == len(e.cloud) {
		e.cloud = nil
	} else if i > 0 {
		e.cloud = slices.Delete(e.cloud, 0, i)
	}
}

// find returns the index of r's entry, or where it would be inserted.
func (c *CausalContext) find(r ReplicaID) (int, bool) {
	return slices.BinarySearchFunc(c.es, r, func(e ctxEntry, r ReplicaID) int {
		switch {
		case e.r < r:
			return -1
		case e.r > r:
			return 1
		}
		return 0
	})
}

// entry returns r's entry, or nil.
func (c *CausalContext) entry(r ReplicaID) *ctxEntry {
	if i, ok := c.find(r); ok {
		return &c.es[i]
	}
	return nil
}

// Contains reports whether d is in the context.
func (c *CausalContext) Contains(d Dot) bool {
	if d.Seq == 0 {
		return true // every replica's empty prefix
	}
	e := c.entry(d.Replica)
	return e != nil && e.contains(d.Seq)
}

// Max returns the highest sequence number of r in the context, or 0.
func (c *CausalContext) Max(r ReplicaID) uint64 {
	if e := c.entry(r); e != nil {
		return e.max()
	}
	return 0
}

// Next adds and returns the next dot of replica r: one past the highest
// sequence number of r in the context. Only replica r itself may call Next
// for r; that is what makes the dot unique. Past [MaxSeq] it returns
// [ErrSeqExhausted] and changes nothing: a counter never wraps.
func (c *CausalContext) Next(r ReplicaID) (Dot, error) {
	top := c.Max(r)
	if top >= MaxSeq {
		return Dot{}, fmt.Errorf("%w: %s at %d", ErrSeqExhausted, r, top)
	}
	d := Dot{Replica: r, Seq: top + 1}
	c.Add(d)
	return d, nil
}

// Add inserts d into the context and compacts r's entries.
func (c *CausalContext) Add(d Dot) {
	if d.Seq == 0 {
		return
	}
	i, ok := c.find(d.Replica)
	if !ok {
		e := ctxEntry{r: d.Replica}
		if d.Seq == 1 {
			e.top = 1
		} else {
			e.cloud = []uint64{d.Seq}
		}
		c.es = slices.Insert(c.es, i, e)
		return
	}
	e := &c.es[i]
	switch {
	case d.Seq <= e.top:
	case d.Seq == e.top+1:
		e.top++
		e.compact()
	default:
		if j, found := slices.BinarySearch(e.cloud, d.Seq); !found {
			e.cloud = slices.Insert(e.cloud, j, d.Seq)
		}
	}
}

// Merge adds every dot of o to c and reports whether c changed. o is not
// modified.
func (c *CausalContext) Merge(o *CausalContext) (changed bool) {
	for _, oe := range o.es {
		i, ok := c.find(oe.r)
		if !ok {
			c.es = slices.Insert(c.es, i, ctxEntry{r: oe.r, top: oe.top, cloud: slices.Clone(oe.cloud)})
			changed = true
			continue
		}
		e := &c.es[i]
		if oe.top > e.top {
			e.top = oe.top
			changed = true
		}
		switch {
		case len(oe.cloud) == 0:
		case len(oe.cloud) <= 4:
			// A delta's few dots go in one by one: in place, and at the
			// end when they arrive in order, however large the cloud.
			for _, s := range oe.cloud {
				if j, found := slices.BinarySearch(e.cloud, s); !found && s > e.top {
					e.cloud = slices.Insert(e.cloud, j, s)
					changed = true
				}
			}
		default:
			n := len(e.cloud)
			e.cloud = unionSorted(e.cloud, oe.cloud, e.top)
			changed = changed || len(e.cloud) != n
		}
		before := e.top
		e.compact()
		changed = changed || e.top != before
	}
	return changed
}

// unionSorted returns the sorted union of a and b without the values up to
// top, in a new slice unless b adds nothing to a.
func unionSorted(a, b []uint64, top uint64) []uint64 {
	fresh := 0
	for _, s := range b {
		if _, ok := slices.BinarySearch(a, s); !ok && s > top {
			fresh++
		}
	}
	if fresh == 0 {
		return a
	}
	out := make([]uint64, 0, len(a)+fresh)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default: // equal
			out = append(out, a[i])
			i++
			j++
		}
	}
	return slices.DeleteFunc(out, func(s uint64) bool { return s <= top })
}

// Clone returns a deep copy of c.
func (c *CausalContext) Clone() CausalContext {
	if len(c.es) == 0 {
		return CausalContext{}
	}
	out := CausalContext{es: slices.Clone(c.es)}
	for i := range out.es {
		out.es[i].cloud = slices.Clone(out.es[i].cloud)
	}
	return out
}

// Equal reports whether c and o hold exactly the same dots.
func (c *CausalContext) Equal(o *CausalContext) bool {
	return slices.EqualFunc(c.es, o.es, func(a, b ctxEntry) bool {
		return a.r == b.r && a.top == b.top && slices.Equal(a.cloud, b.cloud)
	})
}

// Dots calls yield for every dot in the context, in canonical order. It is
// meant for tests and small contexts: a version vector entry r->n yields n
// dots.
func (c *CausalContext) Dots(yield func(Dot) bool) {
	for _, e := range c.es {
		for s := uint64(1); s <= e.top; s++ {
			if !yield(Dot{Replica: e.r, Seq: s}) {
				return
			}
		}
		for _, s := range e.cloud {
			if !yield(Dot{Replica: e.r, Seq: s}) {
				return
			}
		}
	}
}

// sizeAtMost reports whether the context holds at most limit dots.
func (c *CausalContext) sizeAtMost(limit int) bool {
	n := uint64(0)
	for _, e := range c.es {
		// Compare before adding: entries of a decoded context can sum past
		// 2^64 and wrap around.
		if e.top > uint64(limit)-n {
			return false
		}
		n += e.top
		if n += uint64(len(e.cloud)); n > uint64(limit) {
			return false
		}
	}
	return true
}

// IsEmpty reports whether the context holds no dots.
func (c *CausalContext) IsEmpty() bool { return len(c.es) == 0 }

// appendReplicas appends every replica mentioned in c, sorted, to rs.
func (c *CausalContext) appendReplicas(rs []ReplicaID) []ReplicaID {
	for _, e := range c.es {
		rs = append(rs, e.r)
	}
	return rs
}
