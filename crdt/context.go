package crdt

import (
	"fmt"
	"maps"
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
// The zero value is an empty context ready to use. A CausalContext is not
// safe for concurrent use.
type CausalContext struct {
	vv    map[ReplicaID]uint64
	cloud map[ReplicaID]map[uint64]struct{}
}

// Contains reports whether d is in the context.
func (c *CausalContext) Contains(d Dot) bool {
	if d.Seq <= c.vv[d.Replica] {
		return true
	}
	_, ok := c.cloud[d.Replica][d.Seq]
	return ok
}

// Max returns the highest sequence number of r in the context, or 0.
func (c *CausalContext) Max(r ReplicaID) uint64 {
	m := c.vv[r]
	for s := range c.cloud[r] {
		m = max(m, s)
	}
	return m
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
	if d.Seq == 0 || c.Contains(d) {
		return
	}
	if d.Seq == c.vv[d.Replica]+1 {
		if c.vv == nil {
			c.vv = make(map[ReplicaID]uint64)
		}
		c.vv[d.Replica] = d.Seq
		c.compact(d.Replica)
		return
	}
	if c.cloud == nil {
		c.cloud = make(map[ReplicaID]map[uint64]struct{})
	}
	set := c.cloud[d.Replica]
	if set == nil {
		set = make(map[uint64]struct{})
		c.cloud[d.Replica] = set
	}
	set[d.Seq] = struct{}{}
}

// compact moves cloud dots of r that extend the contiguous prefix into the
// version vector and drops cloud dots the vector already covers.
func (c *CausalContext) compact(r ReplicaID) {
	set := c.cloud[r]
	if len(set) == 0 {
		return
	}
	n := c.vv[r]
	for {
		if _, ok := set[n+1]; !ok {
			break
		}
		delete(set, n+1)
		n++
	}
	for s := range set {
		if s <= n {
			delete(set, s)
		}
	}
	if n > 0 {
		if c.vv == nil {
			c.vv = make(map[ReplicaID]uint64)
		}
		c.vv[r] = n
	}
	if len(set) == 0 {
		delete(c.cloud, r)
	}
}

// Merge adds every dot of o to c and reports whether c changed. o is not
// modified.
func (c *CausalContext) Merge(o *CausalContext) (changed bool) {
	for r, n := range o.vv {
		if n > c.vv[r] {
			if c.vv == nil {
				c.vv = make(map[ReplicaID]uint64)
			}
			c.vv[r] = n
			changed = true
			c.compact(r)
		}
	}
	for r, set := range o.cloud {
		for s := range set {
			d := Dot{Replica: r, Seq: s}
			if !c.Contains(d) {
				c.Add(d)
				changed = true
			}
		}
	}
	return changed
}

// Clone returns a deep copy of c.
func (c *CausalContext) Clone() CausalContext {
	out := CausalContext{}
	if len(c.vv) > 0 {
		out.vv = maps.Clone(c.vv)
	}
	for r, set := range c.cloud {
		if out.cloud == nil {
			out.cloud = make(map[ReplicaID]map[uint64]struct{}, len(c.cloud))
		}
		out.cloud[r] = maps.Clone(set)
	}
	return out
}

// Equal reports whether c and o hold exactly the same dots.
func (c *CausalContext) Equal(o *CausalContext) bool {
	if len(c.vv) != len(o.vv) || len(c.cloud) != len(o.cloud) {
		return false
	}
	for r, n := range c.vv {
		if o.vv[r] != n {
			return false
		}
	}
	for r, set := range c.cloud {
		if !maps.Equal(set, o.cloud[r]) {
			return false
		}
	}
	return true
}

// Dots calls yield for every dot in the context, in canonical order. It is
// meant for tests and small contexts: a version vector entry r->n yields n
// dots.
func (c *CausalContext) Dots(yield func(Dot) bool) {
	for _, r := range c.replicas() {
		for s := uint64(1); s <= c.vv[r]; s++ {
			if !yield(Dot{Replica: r, Seq: s}) {
				return
			}
		}
		for _, s := range slices.Sorted(maps.Keys(c.cloud[r])) {
			if !yield(Dot{Replica: r, Seq: s}) {
				return
			}
		}
	}
}

// sizeAtMost reports whether the context holds at most limit dots.
func (c *CausalContext) sizeAtMost(limit int) bool {
	n := uint64(0)
	for _, top := range c.vv {
		// Compare before adding: entries of a decoded context can sum past
		// 2^64 and wrap around.
		if top > uint64(limit)-n {
			return false
		}
		n += top
	}
	for _, set := range c.cloud {
		if n += uint64(len(set)); n > uint64(limit) {
			return false
		}
	}
	return true
}

// IsEmpty reports whether the context holds no dots.
func (c *CausalContext) IsEmpty() bool { return len(c.vv) == 0 && len(c.cloud) == 0 }

// replicas returns every replica mentioned in c, sorted.
func (c *CausalContext) replicas() []ReplicaID {
	rs := make([]ReplicaID, 0, len(c.vv)+len(c.cloud))
	for r := range c.vv {
		rs = append(rs, r)
	}
	for r := range c.cloud {
		if _, ok := c.vv[r]; !ok {
			rs = append(rs, r)
		}
	}
	slices.Sort(rs)
	return rs
}
