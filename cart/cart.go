package cart

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"

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
	q := c.Quantity(item)
	if q > MaxQuantity-n {
		return nil, fmt.Errorf("add %s: %w: %d + %d exceeds %d", item, ErrInvalidQuantity, q, n, MaxQuantity)
	}
	dots, err := c.checkTotal(item, q+n, c.price(item))
	if err != nil {
		return nil, fmt.Errorf("add %w", err)
	}
	if dots >= maxDots {
		return nil, fmt.Errorf("add %s: %w: %d; set a line's quantity to fold its adds", item, ErrTooManyAdds, dots)
	}
	d, err := c.m.Update(ts.Replica, item, func(_ line, next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.setIncrement(next(), increment(n))
		return mu
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", item, err)
	}
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
	if _, err := c.checkTotal(item, q, c.price(item)); err != nil {
		return nil, fmt.Errorf("set %w", err)
	}
	d, err := c.m.Update(ts.Replica, item, func(cur line, next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.sets.Set(next(), assignment{q: q, wall: ts.Wall, logical: ts.Logical})
		mu.Supersede = make([]crdt.Dot, 0, cur.incs.Len()+cur.sets.Len())
		mu.Supersede = appendDots(mu.Supersede, cur.incs.EachDot)
		mu.Supersede = appendDots(mu.Supersede, cur.sets.EachDot)
		return mu
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", item, err)
	}
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
	if _, err := c.checkTotal(item, c.Quantity(item), cents); err != nil {
		return nil, fmt.Errorf("set price %w", err)
	}
	d, err := c.m.Update(ts.Replica, item, func(cur line, next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.prices.Set(next(), pricing{cents: cents, wall: ts.Wall, logical: ts.Logical})
		mu.Supersede = appendDots(mu.Supersede, cur.prices.EachDot)
		return mu
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", item, err)
	}
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

// Line is one row of a cart's read view. Priced is false when no price of
// the item is in effect (it was never set, or a remove or clear observed
// every price set so far while a concurrent add kept the line); then
// UnitPriceCents and SubtotalCents are 0 and mean "unknown", never "free".
type Line struct {
	Item           string
	Quantity       uint64
	UnitPriceCents int64
	SubtotalCents  int64
	Priced         bool
}

// View is a cart as people see it: the lines with quantity > 0, sorted by
// item, and the total. All money is integer cents. The total sums the
// priced lines only; Unpriced counts the lines without a price, so that a
// shop can refuse to check out a cart whose total is not known.
//
// Overflow is set when merged edits from many replicas push a quantity, a
// subtotal or the total beyond an int64; those figures are then capped at
// math.MaxInt64, never wrapped. Local edits refuse to cause it (ErrOverflow),
// so only concurrent edits or a hostile peer can, and the cart stays readable
// and editable: removing lines brings it back in range.
type View struct {
	Lines      []Line
	TotalCents int64
	Unpriced   int
	Overflow   bool
}

// View evaluates the cart.
func (c *Cart) View() View {
	// One pass over the lines in map order, then one sort of the result: the
	// total is a capped sum of non-negative subtotals, the same in any order.
	v := View{Lines: make([]Line, 0, c.m.Len())}
	c.m.Each(func(item string, ln line) bool {
		l, over := viewLine(item, ln)
		if l.Quantity == 0 {
			return true
		}
		v.Overflow = v.Overflow || over
		if !l.Priced {
			v.Unpriced++
		}
		total, ok := addCents(v.TotalCents, l.SubtotalCents)
		v.TotalCents = total
		v.Overflow = v.Overflow || !ok
		v.Lines = append(v.Lines, l)
		return true
	})
	slices.SortFunc(v.Lines, func(a, b Line) int { return strings.Compare(a.Item, b.Item) })
	return v
}

// viewLine evaluates one line, capping what does not fit an int64.
func viewLine(item string, ln line) (l Line, overflow bool) {
	q, ok := ln.quantity()
	if !ok || q > math.MaxInt64 {
		q, overflow = math.MaxInt64, true
	}
	price, priced := ln.price()
	sub, ok := mulCents(q, price)
	return Line{Item: item, Quantity: q, UnitPriceCents: price, SubtotalCents: sub, Priced: priced}, overflow || !ok
}

// mulCents returns q*price capped at math.MaxInt64, and whether it fit.
func mulCents(q uint64, price int64) (int64, bool) {
	hi, lo := bits.Mul64(q, uint64(price))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64, false
	}
	return int64(lo), true
}

// addCents returns a+b (both >= 0) capped at math.MaxInt64, and whether it
// fit.
func addCents(a, b int64) (int64, bool) {
	if a > math.MaxInt64-b {
		return math.MaxInt64, false
	}
	return a + b, true
}

// checkTotal refuses a local edit that would leave item at quantity q and
// unit price cents with a subtotal or cart total beyond an int64. It also
// returns how many dots the cart holds, counted in the same pass.
func (c *Cart) checkTotal(item string, q uint64, cents int64) (dots int, err error) {
	sub, ok := mulCents(q, cents)
	if !ok {
		return 0, fmt.Errorf("%s: %w: %d at %d cents", item, ErrOverflow, q, cents)
	}
	total := sub
	c.m.Each(func(k string, ln line) bool {
		dots += ln.dots()
		if k == item {
			return true
		}
		l, over := viewLine(k, ln)
		if total, ok = addCents(total, l.SubtotalCents); over || !ok {
			err = fmt.Errorf("%s: %w: cart total", item, ErrOverflow)
			return false
		}
		return true
	})
	return dots, err
}

// price returns item's current unit price (0 if absent).
func (c *Cart) price(item string) int64 {
	var p int64
	c.m.Peek(item, func(l line) { p, _ = l.price() })
	return p
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

// HasItems reports whether some line has a quantity above zero, without
// building the view.
func (c *Cart) HasItems() bool {
	found := false
	c.m.Each(func(_ string, l line) bool {
		q, ok := l.quantity()
		found = q > 0 || !ok
		return !found
	})
	return found
}

// Len returns the number of lines the cart tracks, including lines that
// hold only a price.
func (c *Cart) Len() int { return c.m.Len() }

// IsEmpty reports whether the cart has no lines and has seen no edits.
func (c *Cart) IsEmpty() bool { return c.m.IsEmpty() }

// MaxSeq returns the highest sequence number of replica r's changes that
// the cart has seen, or 0. Only r mints r's dots, so a replica can tell
// from it whether state from elsewhere claims changes of its own that it
// never made.
func (c *Cart) MaxSeq(r crdt.ReplicaID) uint64 { return c.m.MaxSeq(r) }

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

// Clone returns a copy of c that shares nothing either can change: lines
// never change in place (a merge or edit replaces a line), so the two share
// them, and a copy costs the map of lines and the causal context.
func (c *Cart) Clone() *Cart { return &Cart{m: *c.m.Clone()} }

// CloneForItem returns a copy of c for an edit of item (Add, SetQuantity,
// SetPrice or Remove of it). It is a Clone that remembers the item, so that
// TakeOver can later hand the copy c's index of dots.
func (c *Cart) CloneForItem(item string) *Cart { return &Cart{m: *c.m.CloneForKey(item)} }

// TakeOver lets c, a copy of orig made by CloneForItem and since edited
// under that item only, replace orig, which must not have changed since
// the copy was made (a merge that changed nothing is allowed): c takes
// orig's index of dots instead of building its own on its next merge.
// Nothing may use orig afterwards. After any other copy or edit it does
// nothing.
func (c *Cart) TakeOver(orig *Cart) { c.m.TakeOver(&orig.m) }

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
