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

// lineEdit applies op to key k of a lineMap: 0 adds n, 1 sets n, 2
// removes, and returns the delta.
func lineEdit(m *lineMap, id crdt.ReplicaID, k string, op int, n amount) *lineMap {
	switch op {
	case 0:
		return lineAdd(m, id, k, n)
	case 1:
		return lineSet(m, id, k, n)
	}
	return m.Remove(k)
}

// TestORMapTakeOver: a CloneForKey copy edited under its key and then
// put in the original's place is the original with the edits' deltas
// merged, and stays equal to it through later local edits and remote
// deltas, which merge through the dot index the copy took over (its maps
// have up to sixteen keys, past the four per delta dot where ORMap.Merge
// uses the index).
func TestORMapTakeOver(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var orig, peer lineMap
		var seen []*lineMap // deltas orig has merged or made
		for range rapid.IntRange(0, 30).Draw(t, "history") {
			m, id := &orig, crdt.ReplicaID("r1")
			if rapid.Bool().Draw(t, "peer") {
				m, id = &peer, "r2"
			}
			d := lineEdit(m, id, drawElem(t), rapid.IntRange(0, 2).Draw(t, "op"), amount(rapid.IntRange(1, 5).Draw(t, "n")))
			if m == &orig {
				seen = append(seen, d)
			}
			if rapid.Bool().Draw(t, "deliver") { // a small delta: indexed merges
				if m == &orig {
					peer.Merge(d)
				} else {
					orig.Merge(d)
					seen = append(seen, d)
				}
			}
		}
		k := drawElem(t)
		copied, want := orig.CloneForKey(k), orig.Clone()
		for i := range rapid.IntRange(1, 3).Draw(t, "edits") {
			d := lineEdit(copied, "r1", k, rapid.IntRange(0, 2).Draw(t, "edit op"), amount(i))
			want.Merge(d)
			peer.Merge(d)
		}
		if len(seen) > 0 && rapid.Bool().Draw(t, "late index") {
			// A delta merged again changes nothing, but may build the
			// original's index after the copy was made: an index the copy
			// did not follow, which it must not take.
			orig.Merge(seen[rapid.IntRange(0, len(seen)-1).Draw(t, "again")])
		}
		copied.TakeOver(&orig)
		if !copied.Equal(want) {
			t.Fatal("the copy that took over differs from the original with the edits merged")
		}
		for range rapid.IntRange(1, 10).Draw(t, "later") {
			if rapid.Bool().Draw(t, "remote") {
				// The peer has seen the edits: its removes and sets can
				// cover the copy's new dots.
				d := lineEdit(&peer, "r2", drawElem(t), rapid.IntRange(0, 2).Draw(t, "remote op"), 7)
				copied.Merge(d)
				want.Merge(d)
			} else {
				e, op := drawElem(t), rapid.IntRange(0, 2).Draw(t, "local op")
				d1, d2 := lineEdit(copied, "r1", e, op, 3), lineEdit(want, "r1", e, op, 3)
				if !d1.Equal(d2) {
					t.Fatal("a later edit gives different deltas")
				}
				peer.Merge(d1)
			}
			if !copied.Equal(want) {
				t.Fatal("the copy that took over drifted from the merged original")
			}
		}
	})
}

// TestORMapSharedStores: maps of stores that merge by copy share them
// between a map and its copies (Clone and CloneForKey). Editing and merging
// into either side, in any order, never shows in the other: each stays
// equal to an independent reference (a decoded copy) given the same
// changes.
func TestORMapSharedStores(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var orig lineMap
		for range rapid.IntRange(0, 20).Draw(t, "history") {
			lineEdit(&orig, "r1", drawElem(t), rapid.IntRange(0, 2).Draw(t, "op"), amount(rapid.IntRange(1, 5).Draw(t, "n")))
		}
		independent := func(m *lineMap) *lineMap {
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var out lineMap
			if err := out.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			return &out
		}
		k := drawElem(t)
		var cp *lineMap
		if rapid.Bool().Draw(t, "for key") {
			cp = orig.CloneForKey(k)
		} else {
			cp = orig.Clone()
		}
		refOrig, refCopy := independent(&orig), independent(cp)
		var peer lineMap
		peer.Merge(&orig)
		for i := range rapid.IntRange(1, 12).Draw(t, "edits") {
			m, ref, id := &orig, refOrig, crdt.ReplicaID("r1")
			if rapid.Bool().Draw(t, "edit the copy") {
				m, ref, id = cp, refCopy, "r2"
			}
			e := k
			if rapid.IntRange(0, 2).Draw(t, "other key") == 0 {
				e = drawElem(t)
			}
			op := rapid.IntRange(0, 3).Draw(t, "op")
			if op == 3 { // a peer's change, merged
				m.Merge(lineEdit(&peer, "r3", e, rapid.IntRange(0, 2).Draw(t, "peer op"), amount(i)))
				ref.Merge(&peer)
				m.Merge(&peer)
				continue
			}
			lineEdit(ref, id, e, op, amount(i))
			lineEdit(m, id, e, op, amount(i))
		}
		if !orig.Equal(refOrig) {
			t.Fatal("the original differs from its reference: a change to the copy reached it")
		}
		if !cp.Equal(refCopy) {
			t.Fatal("the copy differs from its reference: a change to the original reached it")
		}
	})
}
