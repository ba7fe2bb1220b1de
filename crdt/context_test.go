package crdt_test

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt"
)

func dotsOf(c *crdt.CausalContext) []string {
	var out []string
	for d := range c.Dots {
		out = append(out, d.String())
	}
	return out
}

func TestCausalContextAdd(t *testing.T) {
	tests := []struct {
		name string
		add  []crdt.Dot
		want []string
		max  uint64
	}{
		{"empty", nil, nil, 0},
		{"in order", []crdt.Dot{{"a", 1}, {"a", 2}, {"a", 3}}, []string{"a:1", "a:2", "a:3"}, 3},
		{"gap waits in the cloud", []crdt.Dot{{"a", 1}, {"a", 3}}, []string{"a:1", "a:3"}, 3},
		{"gap filled compacts", []crdt.Dot{{"a", 3}, {"a", 1}, {"a", 2}}, []string{"a:1", "a:2", "a:3"}, 3},
		{"reverse order", []crdt.Dot{{"a", 4}, {"a", 3}, {"a", 2}, {"a", 1}}, []string{"a:1", "a:2", "a:3", "a:4"}, 4},
		{"duplicates", []crdt.Dot{{"a", 2}, {"a", 2}, {"a", 1}, {"a", 1}}, []string{"a:1", "a:2"}, 2},
		{"seq zero ignored", []crdt.Dot{{"a", 0}}, nil, 0},
		{"two replicas", []crdt.Dot{{"b", 2}, {"a", 1}}, []string{"a:1", "b:2"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c crdt.CausalContext
			for _, d := range tt.add {
				c.Add(d)
			}
			if got := dotsOf(&c); !slices.Equal(got, tt.want) {
				t.Errorf("Add(%v): got dots %v, want %v", tt.add, got, tt.want)
			}
			if got := c.Max("a"); got != tt.max {
				t.Errorf("Add(%v): got Max(a) = %d, want %d", tt.add, got, tt.max)
			}
			for _, d := range tt.add {
				if d.Seq > 0 && !c.Contains(d) {
					t.Errorf("Add(%v): Contains(%v) = false, want true", tt.add, d)
				}
			}
			if got := c.IsEmpty(); got != (len(tt.want) == 0) {
				t.Errorf("IsEmpty() = %v, want %v", got, len(tt.want) == 0)
			}
		})
	}
}

// TestCausalContextCompaction checks that a context's identity does not
// depend on the order its dots arrived in: a compacted context is Equal to
// one built in order, and encodes identically (so digests agree).
func TestCausalContextCompaction(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 20).Draw(t, "n")
		var dots []crdt.Dot
		for _, r := range []crdt.ReplicaID{"a", "b"} {
			for s := range n {
				if rapid.IntRange(0, 3).Draw(t, "keep") > 0 {
					dots = append(dots, crdt.Dot{Replica: r, Seq: uint64(s + 1)})
				}
			}
		}
		perm := rapid.Permutation(dots).Draw(t, "order")
		var inOrder, shuffled crdt.CausalContext
		for _, d := range dots {
			inOrder.Add(d)
		}
		for _, d := range perm {
			shuffled.Add(d)
		}
		if !inOrder.Equal(&shuffled) || !shuffled.Equal(&inOrder) {
			t.Fatalf("order %v: got %v, want %v", perm, dotsOf(&shuffled), dotsOf(&inOrder))
		}
		// Merging the halves in either order gives the same context.
		var x, y crdt.CausalContext
		for i, d := range perm {
			if i%2 == 0 {
				x.Add(d)
			} else {
				y.Add(d)
			}
		}
		xy, yx := x.Clone(), y.Clone()
		xy.Merge(&y)
		yx.Merge(&x)
		if !xy.Equal(&inOrder) || !yx.Equal(&inOrder) {
			t.Fatalf("merge: got %v and %v, want %v", dotsOf(&xy), dotsOf(&yx), dotsOf(&inOrder))
		}
		// A set holding nothing but encoding the context shows that the
		// encoding is canonical too.
		var s1, s2 crdt.ORSet[string]
		for _, d := range dots {
			s1.Merge(contextOnly(d))
		}
		for _, d := range perm {
			s2.Merge(contextOnly(d))
		}
		b1, _ := s1.MarshalBinary()
		b2, _ := s2.MarshalBinary()
		if string(b1) != string(b2) {
			t.Fatalf("encodings differ: got %x, want %x", b2, b1)
		}
	})
}

// contextOnly returns the delta of a remove that observed d: an empty store
// whose context holds d alone.
func contextOnly(d crdt.Dot) *crdt.ORSet[string] {
	var s crdt.ORSet[string]
	var src crdt.ORSet[string]
	// Mint d on a scratch set: add and remove under d.Replica up to d.Seq,
	// then keep only the context of the final remove.
	for range d.Seq {
		src.Add(d.Replica, "x")
	}
	s.Merge(src.Remove("x"))
	return &s
}

func TestCausalContextMerge(t *testing.T) {
	build := func(ds ...crdt.Dot) crdt.CausalContext {
		var c crdt.CausalContext
		for _, d := range ds {
			c.Add(d)
		}
		return c
	}
	tests := []struct {
		name        string
		a, b        crdt.CausalContext
		want        []string
		wantChanged bool
	}{
		{"empty into empty", build(), build(), nil, false},
		{"into empty", build(), build(crdt.Dot{"a", 1}), []string{"a:1"}, true},
		{"subset", build(crdt.Dot{"a", 1}, crdt.Dot{"a", 2}), build(crdt.Dot{"a", 1}), []string{"a:1", "a:2"}, false},
		{"fills gap", build(crdt.Dot{"a", 1}, crdt.Dot{"a", 3}), build(crdt.Dot{"a", 2}), []string{"a:1", "a:2", "a:3"}, true},
		{"vector covers cloud", build(crdt.Dot{"a", 3}), build(crdt.Dot{"a", 1}, crdt.Dot{"a", 2}, crdt.Dot{"a", 3}, crdt.Dot{"a", 4}), []string{"a:1", "a:2", "a:3", "a:4"}, true},
		{"cloud into cloud", build(crdt.Dot{"a", 3}), build(crdt.Dot{"a", 5}), []string{"a:3", "a:5"}, true},
		{"same cloud", build(crdt.Dot{"a", 3}), build(crdt.Dot{"a", 3}), []string{"a:3"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b.Clone()
			changed := tt.a.Merge(&tt.b)
			if got := dotsOf(&tt.a); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if changed != tt.wantChanged {
				t.Errorf("got changed=%v, want %v", changed, tt.wantChanged)
			}
			if !b.Equal(&tt.b) {
				t.Errorf("Merge modified its argument: got %v, want %v", dotsOf(&tt.b), dotsOf(&b))
			}
		})
	}
}

func TestCausalContextNext(t *testing.T) {
	var c crdt.CausalContext
	c.Add(crdt.Dot{Replica: "a", Seq: 5}) // a late dot of ours, seen out of order
	seen := map[crdt.Dot]bool{}
	for range 10 {
		d := noErr(c.Next("a"))
		if d.Seq <= 5 || seen[d] {
			t.Fatalf("Next reused or went below a seen dot: got %v", d)
		}
		seen[d] = true
		if !c.Contains(d) {
			t.Fatalf("Next(%v) not in the context afterwards", d)
		}
	}
	if got, want := noErr(c.Next("b")), (crdt.Dot{Replica: "b", Seq: 1}); got != want {
		t.Errorf("Next(b) on a fresh replica: got %v, want %v", got, want)
	}
}

func TestCausalContextEqual(t *testing.T) {
	var a, b crdt.CausalContext
	if !a.Equal(&b) {
		t.Fatal("two empty contexts not Equal")
	}
	a.Add(crdt.Dot{Replica: "a", Seq: 1})
	if a.Equal(&b) || b.Equal(&a) {
		t.Fatal("{a:1} Equal to {}")
	}
	b.Add(crdt.Dot{Replica: "a", Seq: 2})
	if a.Equal(&b) {
		t.Fatal("{a:1} Equal to {a:2}")
	}
	a.Add(crdt.Dot{Replica: "a", Seq: 3})
	b.Add(crdt.Dot{Replica: "a", Seq: 3})
	if a.Equal(&b) {
		t.Fatal("{a:1,a:3} Equal to {a:2,a:3}")
	}
	b.Add(crdt.Dot{Replica: "a", Seq: 1})
	a.Add(crdt.Dot{Replica: "a", Seq: 2})
	if !a.Equal(&b) {
		t.Fatalf("got %v and %v, want Equal", dotsOf(&a), dotsOf(&b))
	}
	c := a.Clone()
	c.Add(crdt.Dot{Replica: "z", Seq: 9})
	if a.Contains(crdt.Dot{Replica: "z", Seq: 9}) {
		t.Fatal("Clone shares state with the original")
	}
}

func TestCausalContextDotsStops(t *testing.T) {
	var c crdt.CausalContext
	for s := range uint64(5) {
		c.Add(crdt.Dot{Replica: "a", Seq: s + 1})
	}
	c.Add(crdt.Dot{Replica: "a", Seq: 9})
	c.Add(crdt.Dot{Replica: "a", Seq: 11})
	for stop := 1; stop <= 7; stop++ {
		var got []crdt.Dot
		for d := range c.Dots {
			got = append(got, d)
			if len(got) == stop {
				break
			}
		}
		if len(got) != stop {
			t.Errorf("break after %d: got %d dots", stop, len(got))
		}
	}
}

func TestDot(t *testing.T) {
	tests := []struct {
		a, b crdt.Dot
		want int
	}{
		{crdt.Dot{"a", 1}, crdt.Dot{"a", 1}, 0},
		{crdt.Dot{"a", 1}, crdt.Dot{"a", 2}, -1},
		{crdt.Dot{"a", 9}, crdt.Dot{"b", 1}, -1},
		{crdt.Dot{"b", 1}, crdt.Dot{"a", 9}, 1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v): got %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	if got, want := fmt.Sprint(crdt.Dot{Replica: "node-1", Seq: 42}), "node-1:42"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}
