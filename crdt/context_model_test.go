package crdt_test

import (
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt"
)

// TestCausalContextMatchesSet drives contexts with random adds, merges
// and clones and compares each with the plain set of dots it must hold:
// membership, the highest sequence number per replica, what Merge reports,
// Equal between any two, and that contexts never share memory (a clone or a merged context
// changed later leaves the other as it was). Every context is also checked
// against its own encoding.
func TestCausalContextMatchesSet(t *testing.T) {
	replicas := []crdt.ReplicaID{"a", "b", "c"}
	rapid.Check(t, func(t *rapid.T) {
		const n = 3
		ctxs := make([]crdt.CausalContext, n)
		sets := make([]map[crdt.Dot]bool, n)
		for i := range sets {
			sets[i] = map[crdt.Dot]bool{}
		}
		drawDot := func(label string) crdt.Dot {
			return crdt.Dot{
				Replica: rapid.SampledFrom(replicas).Draw(t, label+" replica"),
				Seq:     rapid.Uint64Range(1, 12).Draw(t, label+" seq"),
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"add": func(t *rapid.T) {
				i := rapid.IntRange(0, n-1).Draw(t, "ctx")
				d := drawDot("add")
				ctxs[i].Add(d)
				sets[i][d] = true
			},
			"merge": func(t *rapid.T) {
				i := rapid.IntRange(0, n-1).Draw(t, "into")
				j := rapid.IntRange(0, n-1).Draw(t, "from")
				before := len(sets[i])
				maps.Copy(sets[i], sets[j])
				if got, want := ctxs[i].Merge(&ctxs[j]), len(sets[i]) != before; got != want {
					t.Fatalf("merge %d into %d reported changed=%v, want %v", j, i, got, want)
				}
			},
			"clone": func(t *rapid.T) {
				i := rapid.IntRange(0, n-1).Draw(t, "from")
				j := rapid.IntRange(0, n-1).Draw(t, "to")
				ctxs[j], sets[j] = ctxs[i].Clone(), maps.Clone(sets[i])
			},
			"": func(t *rapid.T) {
				for i := range ctxs {
					checkContext(t, &ctxs[i], sets[i])
					for j := range ctxs {
						if got, want := ctxs[i].Equal(&ctxs[j]), maps.Equal(sets[i], sets[j]); got != want {
							t.Fatalf("contexts %d and %d: Equal = %v, want %v: %v and %v", i, j, got, want, dotsOf(&ctxs[i]), dotsOf(&ctxs[j]))
						}
					}
				}
			},
		})
	})
}

func checkContext(t *rapid.T, c *crdt.CausalContext, want map[crdt.Dot]bool) {
	top := map[crdt.ReplicaID]uint64{}
	for d := range want {
		top[d.Replica] = max(top[d.Replica], d.Seq)
	}
	for _, r := range []crdt.ReplicaID{"a", "b", "c"} {
		for s := uint64(1); s <= 64; s++ {
			d := crdt.Dot{Replica: r, Seq: s}
			if c.Contains(d) != want[d] {
				t.Fatalf("Contains(%v) = %v, want %v; context %v", d, c.Contains(d), want[d], dotsOf(c))
			}
		}
		if c.Max(r) != top[r] {
			t.Fatalf("Max(%s) = %d, want %d; context %v", r, c.Max(r), top[r], dotsOf(c))
		}
	}
	var got []crdt.Dot
	for d := range c.Dots {
		got = append(got, d)
	}
	if !slices.IsSortedFunc(got, crdt.Dot.Compare) || len(got) != len(want) {
		t.Fatalf("Dots = %v, want the %d dots %v in order", got, len(want), want)
	}
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back crdt.CausalContext
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode own encoding %x: %v", b, err)
	}
	if !back.Equal(c) || !c.Equal(&back) {
		t.Fatalf("encoding round trip: got %v, want %v", dotsOf(&back), dotsOf(c))
	}
}

// TestCausalContextMergesClouds merges contexts whose clouds hold more dots
// than a delta's, the path that merges two sorted clouds at once: every
// pair of random contexts of up to 40 scattered dots must merge into the
// union of their dots, report a change exactly when it gains one, and
// leave the other context as it was.
func TestCausalContextMergesClouds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		draw := func(label string) (crdt.CausalContext, map[crdt.Dot]bool) {
			var c crdt.CausalContext
			set := map[crdt.Dot]bool{}
			for _, s := range rapid.SliceOfN(rapid.Uint64Range(1, 60), 0, 40).Draw(t, label) {
				d := crdt.Dot{Replica: "a", Seq: s}
				c.Add(d)
				set[d] = true
			}
			return c, set
		}
		a, aSet := draw("a")
		b, bSet := draw("b")
		bBefore := b.Clone()
		before := len(aSet)
		maps.Copy(aSet, bSet)
		if got, want := a.Merge(&b), len(aSet) != before; got != want {
			t.Fatalf("Merge reported changed=%v, want %v", got, want)
		}
		checkContext(t, &a, aSet)
		if !b.Equal(&bBefore) {
			t.Fatalf("Merge changed its argument: %v, was %v", dotsOf(&b), dotsOf(&bBefore))
		}
	})
}
