package cart

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/crdt"
)

// The tests in this file pin each limit and each rule at its exact boundary
// (the value allowed, the first value refused), and the line's own
// evaluation on states that only merges from several replicas produce.

func TestLimitsAtTheBoundary(t *testing.T) {
	ts := crdt.Timestamp{Wall: 1, Replica: "dev"}
	tests := []struct {
		name string
		edit func(c *Cart) error
		want error // nil: allowed
	}{
		{"set to MaxQuantity", func(c *Cart) error { _, err := c.SetQuantity(ts, "apple", MaxQuantity); return err }, nil},
		{"set to MaxQuantity+1", func(c *Cart) error { _, err := c.SetQuantity(ts, "apple", MaxQuantity+1); return err }, ErrInvalidQuantity},
		{"item of MaxItemIDLen bytes", func(c *Cart) error {
			_, err := c.Add(ts, strings.Repeat("a", MaxItemIDLen), 1)
			return err
		}, nil},
		{"item of MaxItemIDLen+1 bytes", func(c *Cart) error {
			_, err := c.Add(ts, strings.Repeat("a", MaxItemIDLen+1), 1)
			return err
		}, ErrInvalidItem},
		{"price MaxPriceCents", func(c *Cart) error { _, err := c.SetPrice(ts, "apple", MaxPriceCents); return err }, nil},
		{"price 0", func(c *Cart) error { _, err := c.SetPrice(ts, "apple", 0); return err }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.edit(New()); !errors.Is(err, tt.want) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCentsArithmeticAtTheBoundary(t *testing.T) {
	if got, ok := mulCents(math.MaxInt64, 1); got != math.MaxInt64 || !ok {
		t.Errorf("mulCents(MaxInt64, 1) = %d, %v; want MaxInt64, true", got, ok)
	}
	if got, ok := mulCents(math.MaxInt64/2+1, 2); got != math.MaxInt64 || ok {
		t.Errorf("mulCents(2^62, 2) = %d, %v; want MaxInt64, false (capped)", got, ok)
	}
	if got, ok := mulCents(1<<32, 1<<32); got != math.MaxInt64 || ok {
		t.Errorf("mulCents(2^32, 2^32) = %d, %v; want MaxInt64, false (capped)", got, ok)
	}
	if got, ok := addCents(math.MaxInt64-1, 1); got != math.MaxInt64 || !ok {
		t.Errorf("addCents(MaxInt64-1, 1) = %d, %v; want MaxInt64, true", got, ok)
	}
	if got, ok := addCents(math.MaxInt64, 1); got != math.MaxInt64 || ok {
		t.Errorf("addCents(MaxInt64, 1) = %d, %v; want MaxInt64, false (capped)", got, ok)
	}
}

// dot returns replica r's seq-th dot.
func dot(r string, seq uint64) crdt.Dot { return crdt.Dot{Replica: crdt.ReplicaID(r), Seq: seq} }

// TestViewLineQuantityBoundary: merged increments can exceed what one
// replica allows; the view caps them at MaxInt64 and says so, and only then.
func TestViewLineQuantityBoundary(t *testing.T) {
	tests := []struct {
		name     string
		incs     []uint64
		wantQ    uint64
		overflow bool
	}{
		{"exactly MaxInt64", []uint64{math.MaxInt64}, math.MaxInt64, false},
		{"MaxInt64+1", []uint64{math.MaxInt64, 1}, math.MaxInt64, true},
		{"past uint64", []uint64{math.MaxUint64, 1}, math.MaxInt64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ln line
			for i, n := range tt.incs {
				ln.setIncrement(dot("r", uint64(i+1)), increment(n))
			}
			l, over := viewLine("x", ln)
			if l.Quantity != tt.wantQ || over != tt.overflow {
				t.Errorf("viewLine(incs %v) = quantity %d, overflow %v; want %d, %v", tt.incs, l.Quantity, over, tt.wantQ, tt.overflow)
			}
		})
	}
}

func TestItemsSkipsPriceOnlyLines(t *testing.T) {
	ts := crdt.Timestamp{Wall: 1, Replica: "dev"}
	c := New()
	if _, err := c.SetPrice(ts, "pear", 100); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add(ts, "apple", 1); err != nil {
		t.Fatal(err)
	}
	if got := c.Items(); len(got) != 1 || got[0] != "apple" {
		t.Errorf("Items() = %v, want [apple]: a line with a price and no quantity is not an item", got)
	}
	if c.Len() != 2 {
		t.Errorf("Len() = %d, want 2 (the price-only line is tracked)", c.Len())
	}
}

func TestLineDotsCountsEveryKind(t *testing.T) {
	var ln line
	for i := range 3 {
		ln.setIncrement(dot("a", uint64(i+1)), 1)
	}
	ln.sets.Set(dot("b", 1), assignment{q: 1})
	ln.prices.Set(dot("c", 1), pricing{cents: 1})
	ln.prices.Set(dot("c", 2), pricing{cents: 2})
	if got := ln.dots(); got != 6 {
		t.Errorf("dots() = %d, want 6 (3 increments, 1 set, 2 prices)", got)
	}
}

// TestLineLatestAssignmentWinsInAnyDotOrder: the greatest timestamp wins
// among concurrent sets and prices, whichever dot sorts first.
func TestLineLatestAssignmentWinsInAnyDotOrder(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second string // replicas, in dot order a < z
		firstWins     bool
	}{
		{"later assignment sorts first", "a", "z", true},
		{"later assignment sorts last", "a", "z", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			early, late := int64(10), int64(20)
			w1, w2 := early, late
			if tc.firstWins {
				w1, w2 = late, early
			}
			var ln line
			ln.sets.Set(dot(tc.first, 1), assignment{q: 1, wall: w1})
			ln.sets.Set(dot(tc.second, 1), assignment{q: 2, wall: w2})
			ln.prices.Set(dot(tc.first, 2), pricing{cents: 100, wall: w1})
			ln.prices.Set(dot(tc.second, 2), pricing{cents: 200, wall: w2})
			wantQ, wantP := uint64(2), int64(200)
			if tc.firstWins {
				wantQ, wantP = 1, 100
			}
			if q, ok := ln.quantity(); q != wantQ || !ok {
				t.Errorf("quantity() = %d, %v; want %d, true", q, ok, wantQ)
			}
			if p, ok := ln.price(); p != wantP || !ok {
				t.Errorf("price() = %d, %v; want %d, true", p, ok, wantP)
			}
		})
	}
}

// TestLineEqualAndMergeSeeEachKind: a line differing in only its
// increments, only its sets or only its prices is a different line, and a
// merge changing only one of them reports a change.
func TestLineEqualAndMergeSeeEachKind(t *testing.T) {
	var base line
	base.setIncrement(dot("a", 1), 1)
	base.sets.Set(dot("a", 2), assignment{q: 1})
	base.prices.Set(dot("a", 3), pricing{cents: 1})
	var ctx crdt.CausalContext
	for s := uint64(1); s <= 3; s++ {
		ctx.Add(dot("a", s))
	}
	for _, tc := range []struct {
		name string
		edit func(l *line, d crdt.Dot)
	}{
		{"increments", func(l *line, d crdt.Dot) { l.setIncrement(d, 2) }},
		{"sets", func(l *line, d crdt.Dot) { l.sets.Set(d, assignment{q: 2}) }},
		{"prices", func(l *line, d crdt.Dot) { l.prices.Set(d, pricing{cents: 2}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := base.Clone()
			d := dot("b", 1)
			tc.edit(&other, d)
			if base.Equal(other) || other.Equal(base) {
				t.Errorf("lines differing only in %s are Equal", tc.name)
			}
			octx := ctx.Clone()
			octx.Add(d)
			merged, changed := base.Clone().MergeDots(&ctx, other, &octx)
			if !changed {
				t.Errorf("merging a new dot into the %s reported no change", tc.name)
			}
			if !merged.Equal(other) {
				t.Errorf("merging a new dot into the %s: got a line other than the one merged in", tc.name)
			}
		})
	}
}

// TestDecodePayloadBoundaries encodes one-line carts whose payloads sit
// on each side of every decoded limit.
func TestDecodePayloadBoundaries(t *testing.T) {
	tests := []struct {
		name string
		mu   func(next func() crdt.Dot) crdt.Mutation[line]
		ok   bool
	}{
		{"increment 1", incMut(1), true},
		{"increment 0", incMut(0), false},
		{"increment MaxQuantity", incMut(MaxQuantity), true},
		{"increment MaxQuantity+1", incMut(MaxQuantity + 1), false},
		{"set 1", setMut(assignment{q: 1}), true},
		{"set 0", setMut(assignment{q: 0}), false},
		{"set MaxQuantity", setMut(assignment{q: MaxQuantity}), true},
		{"set MaxQuantity+1", setMut(assignment{q: MaxQuantity + 1}), false},
		{"set logical MaxUint32", setMut(assignment{q: 1, logical: math.MaxUint32}), true},
		{"price 0", priceMut(pricing{cents: 0}), true},
		{"price -1", priceMut(pricing{cents: -1}), false},
		{"price MaxPriceCents", priceMut(pricing{cents: MaxPriceCents}), true},
		{"price MaxPriceCents+1", priceMut(pricing{cents: MaxPriceCents + 1}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New()
			c.m.Update("dev", "apple", func(_ line, next func() crdt.Dot) crdt.Mutation[line] { return tt.mu(next) })
			b, err := c.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			err = New().UnmarshalBinary(b)
			if tt.ok && err != nil {
				t.Errorf("decode: got error %v, want none", err)
			}
			if !tt.ok && !errors.Is(err, crdt.ErrCorrupt) {
				t.Errorf("decode: got error %v, want ErrCorrupt", err)
			}
		})
	}
}

func incMut(n uint64) func(func() crdt.Dot) crdt.Mutation[line] {
	return func(next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.setIncrement(next(), increment(n))
		return mu
	}
}

func setMut(a assignment) func(func() crdt.Dot) crdt.Mutation[line] {
	return func(next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.sets.Set(next(), a)
		return mu
	}
}

func priceMut(p pricing) func(func() crdt.Dot) crdt.Mutation[line] {
	return func(next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.prices.Set(next(), p)
		return mu
	}
}

// TestLineTimestampTieBreaksByDot: two assignments with one timestamp
// (a caller that reused a reading) are ordered by dot, the greater winning,
// so every replica picks the same one.
func TestLineTimestampTieBreaksByDot(t *testing.T) {
	for _, order := range [][2]uint64{{1, 2}, {2, 1}} {
		var ln line
		ln.sets.Set(dot("a", order[0]), assignment{q: order[0], wall: 5})
		ln.sets.Set(dot("a", order[1]), assignment{q: order[1], wall: 5})
		ln.prices.Set(dot("a", 10+order[0]), pricing{cents: int64(order[0]), wall: 5})
		ln.prices.Set(dot("a", 10+order[1]), pricing{cents: int64(order[1]), wall: 5})
		if q, _ := ln.quantity(); q != 2 {
			t.Errorf("sets a:1=1 and a:2=2 at one timestamp (added %v): quantity %d, want 2", order, q)
		}
		if p, _ := ln.price(); p != 2 {
			t.Errorf("prices a:11=1 and a:12=2 at one timestamp (added %v): price %d, want 2", order, p)
		}
	}
}

func TestIsEmpty(t *testing.T) {
	ts := crdt.Timestamp{Wall: 1, Replica: "dev"}
	c := New()
	if !c.IsEmpty() {
		t.Error("new cart: IsEmpty false, want true")
	}
	if _, err := c.Add(ts, "apple", 1); err != nil {
		t.Fatal(err)
	}
	if c.IsEmpty() {
		t.Error("cart with a line: IsEmpty true, want false")
	}
	if _, err := c.Remove("apple"); err != nil {
		t.Fatal(err)
	}
	if c.IsEmpty() {
		t.Error("cart that saw an add and its remove: IsEmpty true, want false (its context is not empty)")
	}
}

// TestCloneForItemIsIndependent edits a CloneForItem copy, the item and
// another line, and checks the original is untouched.
func TestCloneForItemIsIndependent(t *testing.T) {
	ts := crdt.Timestamp{Wall: 1, Replica: "dev"}
	c := New()
	for _, it := range []string{"apple", "pear"} {
		if _, err := c.Add(ts, it, 1); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := c.MarshalBinary()
	cp := c.CloneForItem("apple")
	if !cp.Equal(c) {
		t.Fatal("CloneForItem: copy differs from the original")
	}
	ts.Wall++
	if _, err := cp.Add(ts, "apple", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.SetQuantity(ts, "pear", 7); err != nil {
		t.Fatal(err)
	}
	if after, _ := c.MarshalBinary(); string(after) != string(before) {
		t.Error("editing a CloneForItem copy changed the original")
	}
	if cp.Quantity("apple") != 3 || cp.Quantity("pear") != 7 {
		t.Errorf("copy: apple %d, pear %d; want 3, 7", cp.Quantity("apple"), cp.Quantity("pear"))
	}
}
