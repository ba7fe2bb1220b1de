package crdt

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
)

// GCounter is a grow-only counter.
//
// Specification: its value is the sum of all increments in the causal
// history. Each replica owns one entry, the total of its own increments;
// merge takes the maximum of each entry, which is a join because an entry
// only grows.
//
// Increments are positive. A value beyond 2^64-1 is reported as ErrOverflow,
// never wrapped.
//
// The zero value is a counter at zero. A GCounter is not safe for concurrent
// use.
type GCounter struct {
	entries map[ReplicaID]uint64
}

// Inc adds n > 0 on behalf of replica id and returns the delta to ship: the
// replica's new entry alone. It fails, changing nothing, when n is 0 or the
// value would overflow.
func (g *GCounter) Inc(id ReplicaID, n uint64) (delta *GCounter, err error) {
	mustValid(id)
	if n == 0 {
		return nil, fmt.Errorf("gcounter inc: %w", ErrInvalidAmount)
	}
	total, err := g.Value()
	if err != nil {
		return nil, err
	}
	if _, carry := bits.Add64(total, n, 0); carry != 0 {
		return nil, fmt.Errorf("gcounter inc %d: %w", n, ErrOverflow)
	}
	if g.entries == nil {
		g.entries = make(map[ReplicaID]uint64)
	}
	g.entries[id] += n
	return &GCounter{entries: map[ReplicaID]uint64{id: g.entries[id]}}, nil
}

// Value returns the counter's value, or ErrOverflow if the entries merged
// from all replicas add up to more than a uint64 holds.
func (g *GCounter) Value() (uint64, error) {
	var sum uint64
	for _, n := range g.entries {
		var carry uint64
		sum, carry = bits.Add64(sum, n, 0)
		if carry != 0 {
			return 0, fmt.Errorf("gcounter value: %w", ErrOverflow)
		}
	}
	return sum, nil
}

// Merge joins o into g and reports whether g changed.
func (g *GCounter) Merge(o *GCounter) (changed bool) {
	for r, n := range o.entries {
		if n > g.entries[r] {
			if g.entries == nil {
				g.entries = make(map[ReplicaID]uint64)
			}
			g.entries[r] = n
			changed = true
		}
	}
	return changed
}

// Clone returns a deep copy of g.
func (g *GCounter) Clone() *GCounter {
	if len(g.entries) == 0 {
		return &GCounter{}
	}
	return &GCounter{entries: maps.Clone(g.entries)}
}

// Equal reports whether g and o hold the same entries.
func (g *GCounter) Equal(o *GCounter) bool { return maps.Equal(g.entries, o.entries) }

// MarshalBinary returns the canonical encoding of g.
func (g *GCounter) MarshalBinary() ([]byte, error) {
	e := newEncoder()
	g.encode(e)
	return e.bytes()
}

func (g *GCounter) encode(e *Encoder) {
	rs := slices.Sorted(maps.Keys(g.entries))
	e.ArrayLen(2 * len(rs))
	for _, r := range rs {
		e.String(string(r))
		e.Uint(g.entries[r])
	}
}

// UnmarshalBinary replaces g with the state encoded in b, leaving g
// unchanged on error.
func (g *GCounter) UnmarshalBinary(b []byte) error {
	r, err := newReader("gcounter", b)
	if err != nil {
		return err
	}
	out, err := decodeGCounter(r)
	if err == nil {
		err = r.done()
	}
	if err != nil {
		return fmt.Errorf("decode gcounter: %w", err)
	}
	*g = *out
	return nil
}

func decodeGCounter(r *Reader) (*GCounter, error) {
	n, err := r.ArrayLen(1)
	if err != nil {
		return nil, err
	}
	if n%2 != 0 {
		return nil, r.corrupt("counter entries have odd length %d", n)
	}
	if n/2 > MaxReplicas {
		return nil, r.corrupt("counter names %d replicas, limit %d", n/2, MaxReplicas)
	}
	g := &GCounter{}
	var prev ReplicaID
	for i := range n / 2 {
		id, err := r.ReplicaID()
		if err != nil {
			return nil, err
		}
		if i > 0 && id <= prev {
			return nil, r.corrupt("counter replicas not strictly sorted")
		}
		prev = id
		v, err := r.Uint()
		if err != nil {
			return nil, err
		}
		if v == 0 {
			return nil, r.corrupt("zero counter entry for %s", id)
		}
		if g.entries == nil {
			g.entries = make(map[ReplicaID]uint64, min(n/2, 64)) // a hint from the input is capped
		}
		g.entries[id] = v
	}
	return g, nil
}
