package cart

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/crdtd/crdtd/crdt"
)

// Cart is a replicated shopping cart: an observed-remove map from item ID to
// a line, all lines sharing one causal context. See the package
// documentation for the specification of every operation under concurrency.
//
// Every edit returns the delta to ship to other replicas; Merge joins a delta
// or a full state and reports whether anything changed.
//
// The zero value is an empty cart ready to use. A Cart is not safe for
// concurrent use.
type Cart struct {
	m crdt.ORMap[string, line]
}

// New returns an empty cart.
func New() *Cart { return &Cart{} }

// Add adds n (1..MaxQuantity) of item, at the replica and time of ts, and
// returns the delta. Adds made concurrently on other replicas all count.
func (c *Cart) Add(ts crdt.Timestamp, item string, n uint64) (delta *Cart, err error) {
	if err := c.checkNewLine(item); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxQuantity {
		return nil, fmt.Errorf("add %s: %w: %d not in 1..%d", item, ErrInvalidQuantity, n, MaxQuantity)
	}
	if q := c.Quantity(item); q > MaxQuantity-n {
		return nil, fmt.Errorf("add %s: %w: %d + %d exceeds %d", item, ErrInvalidQuantity, q, n, MaxQuantity)
	}
	d := c.m.Update(ts.Replica, item, func(_ line, next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.incs.Set(next(), increment(n))
		return mu
	})
	return &Cart{m: *d}, nil
}

// SetQuantity sets item's quantity to q (0..MaxQuantity) and returns the
// delta. It replaces the quantity this replica has observed; adds made
// concurrently elsewhere still count on top. Setting 0 removes the line.
func (c *Cart) SetQuantity(ts crdt.Timestamp, item string, q uint64) (delta *Cart, err error) {
	if q > MaxQuantity {
		return nil, fmt.Errorf("set %s: %w: %d not in 0..%d", item, ErrInvalidQuantity, q, MaxQuantity)
	}
	if q == 0 {
		return c.Remove(item)
	}
	if err := c.checkNewLine(item); err != nil {
		return nil, err
	}
	d := c.m.Update(ts.Replica, item, func(cur line, next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.sets.Set(next(), assignment{q: q, wall: ts.Wall, logical: ts.Logical})
		mu.Supersede = appendDots(mu.Supersede, cur.incs.EachDot)
		mu.Supersede = appendDots(mu.Supersede, cur.sets.EachDot)
		return mu
	})
	return &Cart{m: *d}, nil
}

// SetPrice sets item's unit price in cents (0..MaxPriceCents) and returns
// the delta. Among concurrent price changes the one with the greatest
// timestamp wins.
func (c *Cart) SetPrice(ts crdt.Timestamp, item string, cents int64) (delta *Cart, err error) {
	if err := c.checkNewLine(item); err != nil {
		return nil, err
	}
	if cents < 0 || cents > MaxPriceCents {
		return nil, fmt.Errorf("set price %s: %w: %d not in 0..%d", item, ErrInvalidPrice, cents, int64(MaxPriceCents))
	}
	d := c.m.Update(ts.Replica, item, func(cur line, next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.prices.Set(next(), pricing{cents: cents, wall: ts.Wall, logical: ts.Logical})
		mu.Supersede = appendDots(mu.Supersede, cur.prices.EachDot)
		return mu
	})
	return &Cart{m: *d}, nil
}

// Remove removes item's line (quantity and price) as this replica has
// observed it, and returns the delta. Edits made concurrently elsewhere
// survive: add and set win over a concurrent remove.
func (c *Cart) Remove(item string) (delta *Cart, err error) {
	if err := ValidItemID(item); err != nil {
		return nil, err
	}
	return &Cart{m: *c.m.Remove(item)}, nil
}

// Clear removes every line this replica has observed and returns the
// delta. Items added concurrently elsewhere remain.
func (c *Cart) Clear() (delta *Cart) { return &Cart{m: *c.m.Clear()} }

// checkNewLine validates item and refuses to start line MaxLines+1.
func (c *Cart) checkNewLine(item string) error {
	if err := ValidItemID(item); err != nil {
		return err
	}
	if !c.m.Has(item) && c.m.Len() >= MaxLines {
		return fmt.Errorf("%w: %d lines", ErrTooManyLines, c.m.Len())
	}
	return nil
}

func appendDots(ds []crdt.Dot, each func(func(crdt.Dot) bool)) []crdt.Dot {
	for d := range each {
		ds = append(ds, d)
	}
	return ds
}

// Quantity returns item's current quantity (0 if absent). A quantity that
// overflows is reported as math.MaxUint64; View reports it as an error.
func (c *Cart) Quantity(item string) uint64 {
	q := uint64(0)
	c.m.Peek(item, func(l line) {
		var ok bool
		if q, ok = l.quantity(); !ok {
			q = math.MaxUint64
		}
	})
	return q
}

// Line is one row of a cart's read view.
type Line struct {
	Item           string
	Quantity       uint64
	UnitPriceCents int64
	SubtotalCents  int64
}

// View is a cart as people see it: the lines with quantity > 0, sorted by
// item, and the total. All money is integer cents.
type View struct {
	Lines      []Line
	TotalCents int64
}

// View evaluates the cart. It fails with ErrOverflow only when merged edits
// from many replicas push a subtotal or the total beyond an int64.
func (c *Cart) View() (View, error) {
	v := View{Lines: []Line{}}
	for _, item := range c.m.Keys() {
		var l Line
		var err error
		c.m.Peek(item, func(ln line) { l, err = viewLine(item, ln) })
		if err != nil {
			return View{}, err
		}
		if l.Quantity == 0 {
			continue
		}
		total, carry := bits.Add64(uint64(v.TotalCents), uint64(l.SubtotalCents), 0)
		if carry != 0 || total > math.MaxInt64 {
			return View{}, fmt.Errorf("view: %w: total", ErrOverflow)
		}
		v.TotalCents = int64(total)
		v.Lines = append(v.Lines, l)
	}
	return v, nil
}

func viewLine(item string, ln line) (Line, error) {
	q, ok := ln.quantity()
	if !ok {
		return Line{}, fmt.Errorf("view %s: %w: quantity", item, ErrOverflow)
	}
	price := ln.price()
	hi, lo := bits.Mul64(q, uint64(price))
	if hi != 0 || lo > math.MaxInt64 {
		return Line{}, fmt.Errorf("view %s: %w: subtotal", item, ErrOverflow)
	}
	return Line{Item: item, Quantity: q, UnitPriceCents: price, SubtotalCents: int64(lo)}, nil
}

// Items returns the IDs of the lines with quantity > 0, sorted.
func (c *Cart) Items() []string {
	var items []string
	for _, item := range c.m.Keys() {
		if c.Quantity(item) > 0 {
			items = append(items, item)
		}
	}
	return items
}

// Len returns the number of lines the cart tracks, including lines that
// hold only a price.
func (c *Cart) Len() int { return c.m.Len() }

// IsEmpty reports whether the cart has no lines and has seen no edits.
func (c *Cart) IsEmpty() bool {
	cc := c.m.Context()
	return c.m.Len() == 0 && cc.IsEmpty()
}

// Latest returns the greatest HLC timestamp any assignment in the cart
// carries (zero if none). A daemon checks it against its clock before
// accepting remote state and observes it so later local edits order after
// it.
func (c *Cart) Latest() crdt.Timestamp {
	var t crdt.Timestamp
	for _, item := range c.m.Keys() {
		c.m.Peek(item, func(l line) {
			if lt := l.latest(); lt.After(t) {
				t = lt
			}
		})
	}
	return t
}

// Merge joins o (a delta or a full state) into c and reports whether c
// changed. o is not modified.
func (c *Cart) Merge(o *Cart) (changed bool) { return c.m.Merge(&o.m) }

// Clone returns a deep copy of c.
func (c *Cart) Clone() *Cart { return &Cart{m: *c.m.Clone()} }

// Equal reports whether c and o are the same state.
func (c *Cart) Equal(o *Cart) bool { return c.m.Equal(&o.m) }

// MarshalBinary returns the canonical encoding of c: equal carts give equal
// bytes, so digests agree across nodes.
func (c *Cart) MarshalBinary() ([]byte, error) { return c.m.MarshalBinary() }

// UnmarshalBinary replaces c with the cart encoded in b. Input from outside
// is decoded with bounded allocation and validated; on error c is unchanged.
func (c *Cart) UnmarshalBinary(b []byte) error {
	var m crdt.ORMap[string, line]
	if err := m.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("decode cart: %w", err)
	}
	for _, item := range m.Keys() {
		if err := ValidItemID(item); err != nil {
			return fmt.Errorf("decode cart: %w: %v", crdt.ErrCorrupt, err)
		}
	}
	c.m = m
	return nil
}
