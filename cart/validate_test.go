package cart

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

func TestEditValidation(t *testing.T) {
	ts := crdt.Timestamp{Wall: 1, Replica: "dev"}
	tests := []struct {
		name string
		edit func(c *Cart) error
		want error
	}{
		{"empty item", func(c *Cart) error { _, err := c.Add(ts, "", 1); return err }, ErrInvalidItem},
		{"long item", func(c *Cart) error { _, err := c.Add(ts, strings.Repeat("a", 129), 1); return err }, ErrInvalidItem},
		{"bad byte", func(c *Cart) error { _, err := c.Add(ts, "ap ple", 1); return err }, ErrInvalidItem},
		{"utf8 item", func(c *Cart) error { _, err := c.Add(ts, "äpfel", 1); return err }, ErrInvalidItem},
		{"add zero", func(c *Cart) error { _, err := c.Add(ts, "apple", 0); return err }, ErrInvalidQuantity},
		{"add too many", func(c *Cart) error { _, err := c.Add(ts, "apple", MaxQuantity+1); return err }, ErrInvalidQuantity},
		{"add beyond max total", func(c *Cart) error {
			if _, err := c.Add(ts, "apple", MaxQuantity); err != nil {
				return err
			}
			_, err := c.Add(ts, "apple", 1)
			return err
		}, ErrInvalidQuantity},
		{"set too many", func(c *Cart) error { _, err := c.SetQuantity(ts, "apple", MaxQuantity+1); return err }, ErrInvalidQuantity},
		{"set bad item", func(c *Cart) error { _, err := c.SetQuantity(ts, "a/b", 1); return err }, ErrInvalidItem},
		{"negative price", func(c *Cart) error { _, err := c.SetPrice(ts, "apple", -1); return err }, ErrInvalidPrice},
		{"huge price", func(c *Cart) error { _, err := c.SetPrice(ts, "apple", MaxPriceCents+1); return err }, ErrInvalidPrice},
		{"remove bad item", func(c *Cart) error { _, err := c.Remove(""); return err }, ErrInvalidItem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New()
			before, _ := c.MarshalBinary()
			err := tt.edit(c)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
			if tt.name != "add beyond max total" {
				after, _ := c.MarshalBinary()
				if string(after) != string(before) {
					t.Fatalf("a refused edit changed the cart")
				}
			}
		})
	}
}

func TestMaxLines(t *testing.T) {
	clk, _ := crdt.NewHLC("dev")
	now := time.Unix(1_800_000_000, 0)
	c := New()
	for i := range MaxLines {
		if _, err := c.Add(clk.Now(now), "item-"+itoa(i), 1); err != nil {
			t.Fatalf("add line %d: %v", i, err)
		}
	}
	if _, err := c.Add(clk.Now(now), "one-more", 1); !errors.Is(err, ErrTooManyLines) {
		t.Fatalf("line %d: got %v, want ErrTooManyLines", MaxLines+1, err)
	}
	if _, err := c.Add(clk.Now(now), "item-7", 1); err != nil {
		t.Fatalf("adding to an existing line at the limit: %v", err)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

// TestViewOverflow merges adds from many replicas until a subtotal would
// overflow an int64: the view reports ErrOverflow instead of wrapping.
func TestViewOverflow(t *testing.T) {
	c := New()
	for i := range 20 {
		r := New()
		ts := crdt.Timestamp{Wall: int64(i + 1), Replica: crdt.ReplicaID("dev" + itoa(i))}
		d, err := r.Add(ts, "gold", MaxQuantity)
		if err != nil {
			t.Fatal(err)
		}
		c.Merge(d)
		p, err := r.SetPrice(ts, "gold", MaxPriceCents)
		if err != nil {
			t.Fatal(err)
		}
		c.Merge(p)
	}
	v := c.View()
	if !v.Overflow || v.TotalCents != math.MaxInt64 || v.Lines[0].SubtotalCents != math.MaxInt64 {
		t.Fatalf("got %+v, want the overflowing figures capped and Overflow set", v)
	}
	// The cart stays editable: removing the line brings it back in range.
	if _, err := c.Remove("gold"); err != nil {
		t.Fatal(err)
	}
	if v := c.View(); v.Overflow || len(v.Lines) != 0 {
		t.Fatalf("after remove: got %+v, want an empty view", v)
	}
}

// TestLocalEditsRefuseOverflow: one replica alone may not build a cart whose
// total overflows, though every line is within the limits.
func TestLocalEditsRefuseOverflow(t *testing.T) {
	ts := crdt.Timestamp{Wall: 1, Replica: "dev"}
	c := New()
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		item := "gold" + itoa(i)
		if _, err = c.SetPrice(ts, item, MaxPriceCents); err == nil {
			_, err = c.Add(ts, item, MaxQuantity)
		}
	}
	if !errors.Is(err, ErrOverflow) {
		t.Fatalf("got %v, want ErrOverflow", err)
	}
	if v := c.View(); v.Overflow {
		t.Fatalf("a refused edit left the cart overflowing: %+v", v)
	}
}

func TestDecodeRejectsBadItemIDs(t *testing.T) {
	// A map keyed by an item ID the cart would refuse: built through the
	// generic ORMap with the cart's own line type.
	var m crdt.ORMap[string, line]
	m.Update("dev", "bad item", func(_ line, next func() crdt.Dot) crdt.Mutation[line] {
		var mu crdt.Mutation[line]
		mu.Add.setIncrement(next(), 1)
		return mu
	})
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := New().UnmarshalBinary(b); !errors.Is(err, crdt.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

func TestHasItems(t *testing.T) {
	ts := crdt.Timestamp{Wall: 1, Replica: "dev"}
	c := New()
	if c.HasItems() {
		t.Fatal("empty cart: got HasItems true, want false")
	}
	if _, err := c.SetPrice(ts, "apple", 5); err != nil {
		t.Fatal(err)
	}
	if c.HasItems() {
		t.Fatal("price-only line: got HasItems true, want false")
	}
	if _, err := c.Add(ts, "apple", 1); err != nil {
		t.Fatal(err)
	}
	if !c.HasItems() {
		t.Fatal("one apple: got HasItems false, want true")
	}
	if _, err := c.Remove("apple"); err != nil {
		t.Fatal(err)
	}
	if c.HasItems() {
		t.Fatal("after remove: got HasItems true, want false")
	}
}

func TestMaxDots(t *testing.T) {
	// Each add costs a pass over the cart's dots, so reaching the real
	// limit one add at a time would take minutes; the mechanism is the same.
	defer func(n int) { maxDots = n }(maxDots)
	maxDots = 3000
	clk, _ := crdt.NewHLC("dev")
	now := time.Unix(1_800_000_000, 0)
	c := New()
	const lines = 100
	for i := range maxDots {
		if _, err := c.Add(clk.Now(now), "item-"+itoa(i%lines), 1); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	before := c.Clone()
	if _, err := c.Add(clk.Now(now), "item-1", 1); !errors.Is(err, ErrTooManyAdds) {
		t.Fatalf("add %d: got %v, want ErrTooManyAdds", maxDots+1, err)
	}
	if !c.Equal(before) {
		t.Fatal("a refused add changed the cart")
	}
	// A set folds the line's adds into one dot, which makes room again.
	if _, err := c.SetQuantity(clk.Now(now), "item-1", 200); err != nil {
		t.Fatalf("set at the limit: %v", err)
	}
	if _, err := c.Add(clk.Now(now), "item-1", 1); err != nil {
		t.Fatalf("add after the set folded the line: %v", err)
	}
	if got := c.Quantity("item-1"); got != 201 {
		t.Errorf("quantity: got %d, want 201", got)
	}
	if got, _ := c.checkTotal("item-1", 0, 0); got > maxDots {
		t.Errorf("cart holds %d dots, limit %d", got, maxDots)
	}
}
