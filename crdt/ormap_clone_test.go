package crdt_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt"
)

// boxed is a DotStore that merges in place, as the DotStore contract
// allows (the package's own stores never do): two maps sharing a boxed
// store see each other's changes. It makes sharing mistakes visible.
type boxed struct{ f *crdt.DotFun[amount] }

type boxedMap = crdt.ORMap[string, boxed]

func (b boxed) MergeDots(ctx *crdt.CausalContext, o boxed, octx *crdt.CausalContext) (boxed, bool) {
	if b.f == nil {
		b.f = new(crdt.DotFun[amount])
	}
	merged, changed := b.f.MergeDots(ctx, o.fun(), octx)
	*b.f = merged
	return b, changed
}

func (b boxed) fun() crdt.DotFun[amount] {
	if b.f == nil {
		return crdt.DotFun[amount]{}
	}
	return *b.f
}

func (b boxed) EachDot(yield func(crdt.Dot) bool) { b.fun().EachDot(yield) }
func (b boxed) IsEmpty() bool                     { return b.fun().IsEmpty() }
func (b boxed) Equal(o boxed) bool                { return b.fun().Equal(o.fun()) }
func (b boxed) EncodeStore(e *crdt.Encoder)       { b.fun().EncodeStore(e) }

func (b boxed) Clone() boxed {
	c := b.fun().Clone()
	return boxed{&c}
}

func (boxed) DecodeStore(r *crdt.Reader) (boxed, error) {
	f, err := crdt.DotFun[amount]{}.DecodeStore(r)
	return boxed{&f}, err
}

// boxedEdit applies op to key k: 0 adds n, 1 sets n (superseding what it
// saw), 2 removes.
func boxedEdit(m *boxedMap, id crdt.ReplicaID, k string, op, n int) *boxedMap {
	if op == 2 {
		return m.Remove(k)
	}
	return noErr(m.Update(id, k, func(cur boxed, next func() crdt.Dot) crdt.Mutation[boxed] {
		var mu crdt.Mutation[boxed]
		if op == 1 {
			for d := range cur.EachDot {
				mu.Supersede = append(mu.Supersede, d)
			}
		}
		var f crdt.DotFun[amount]
		f.Set(next(), amount(n))
		mu.Add = boxed{&f}
		return mu
	}))
}

// TestORMapCloneForKey checks the cheap copy against a deep one, on stores
// that merge in place: editing through it (mostly key k; edits of other
// keys make it copy everything first) gives the same map and deltas as the
// same edits on Clone, and never changes the original.
func TestORMapCloneForKey(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := []string{"a", "b", "c"}
		var orig, other boxedMap // other is a second replica
		for range rapid.IntRange(0, 12).Draw(t, "history") {
			m, id := &orig, crdt.ReplicaID("r1")
			if rapid.Bool().Draw(t, "other") {
				m, id = &other, "r2"
			}
			boxedEdit(m, id, rapid.SampledFrom(keys).Draw(t, "key"), rapid.IntRange(0, 2).Draw(t, "op"), rapid.IntRange(1, 5).Draw(t, "n"))
			if rapid.Bool().Draw(t, "sync") {
				orig.Merge(&other)
			}
		}
		before := orig.Clone()
		k := rapid.SampledFrom(keys).Draw(t, "edited")
		cheap, deep := orig.CloneForKey(k), orig.Clone()
		for i := range rapid.IntRange(1, 4).Draw(t, "edits") {
			ek := k
			if rapid.IntRange(0, 3).Draw(t, "stray") == 0 {
				ek = rapid.SampledFrom(keys).Draw(t, "stray key")
			}
			op := rapid.IntRange(0, 2).Draw(t, "op")
			dc, dd := boxedEdit(cheap, "r1", ek, op, i), boxedEdit(deep, "r1", ek, op, i)
			if !dc.Equal(dd) {
				t.Fatalf("edit %d of %s: deltas differ", i, ek)
			}
		}
		if !cheap.Equal(deep) {
			t.Fatal("CloneForKey copy differs from Clone after the same edits")
		}
		if !orig.Equal(before) {
			t.Fatal("editing the CloneForKey copy changed the original")
		}
		orig.Merge(cheap)
		if !orig.Equal(deep) {
			t.Fatal("original after merging the copy differs from the copy")
		}
	})
}
