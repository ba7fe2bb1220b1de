package crdt

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// chainMap is the map the take-over chains edit: keys to counter stores.
type chainMap = ORMap[string, DotFun[counterPayload]]

// chainKeys are sixteen keys: past four per delta dot, Merge uses the index.
var chainKeys = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"}

// chainKey draws a key, one of three hot ones half of the time.
func chainKey(t *rapid.T, l string) string {
	if rapid.Bool().Draw(t, l+" hot") {
		return rapid.SampledFrom(chainKeys[:3]).Draw(t, l)
	}
	return rapid.SampledFrom(chainKeys).Draw(t, l)
}

// checkIndexComplete fails unless, when m has a dot index, every live dot
// maps to its key in it (stale entries are allowed; a missing live dot
// would let an indexed merge skip a remote remove).
func checkIndexComplete(t *rapid.T, what string, m *chainMap) {
	if m.index == nil {
		return
	}
	for k, v := range m.entries {
		for d := range (*v).EachDot {
			if got, ok := m.index[d]; !ok || got != k {
				t.Fatalf("%s: live dot %v under %q: index has %q,%v", what, d, k, got, ok)
			}
		}
	}
}

// chainEdit makes edit op (0 add, 1 set, 2 remove) of key k by id on m
// and returns the delta.
func chainEdit(m *chainMap, id ReplicaID, k string, op int, n counterPayload) *chainMap {
	switch op {
	case 0:
		d, err := m.Update(id, k, func(_ DotFun[counterPayload], next func() Dot) Mutation[DotFun[counterPayload]] {
			var mu Mutation[DotFun[counterPayload]]
			mu.Add.Set(next(), n)
			return mu
		})
		if err != nil {
			panic(err)
		}
		return d
	case 1:
		d, err := m.Update(id, k, func(cur DotFun[counterPayload], next func() Dot) Mutation[DotFun[counterPayload]] {
			var mu Mutation[DotFun[counterPayload]]
			for d := range cur.EachDot {
				mu.Supersede = append(mu.Supersede, d)
			}
			mu.Add.Set(next(), n)
			return mu
		})
		if err != nil {
			panic(err)
		}
		return d
	}
	return m.Remove(k)
}

// TestTakeOverChainsKeepTheIndexComplete: a map replaced again and again
// by edited CloneForKey copies (TakeOver), as the node replaces a cart at
// each write, with small remote deltas, deltas merged again (which may
// build the original's index late), copies of copies and stray edits of
// other keys in between, keeps a complete dot index and stays equal to a
// reference that merges every delta.
func TestTakeOverChainsKeepTheIndexComplete(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cur, ref, peer := &chainMap{}, &chainMap{}, &chainMap{}
		var seen []*chainMap
		n := counterPayload(0)
		apply := func(d *chainMap) { ref.Merge(d); peer.Merge(d); seen = append(seen, d) }
		for step := range rapid.IntRange(1, 60).Draw(t, "steps") {
			n++
			switch op := rapid.IntRange(0, 5).Draw(t, "op"); op {
			case 0, 1: // local write through a copy
				k := chainKey(t, "key")
				cp := cur.CloneForKey(k)
				for range rapid.IntRange(1, 4).Draw(t, "edits") {
					ek := k
					if rapid.IntRange(0, 6).Draw(t, "stray") == 0 {
						ek = chainKey(t, "stray key")
					}
					apply(chainEdit(cp, "r1", ek, rapid.IntRange(0, 2).Draw(t, "eop"), n))
				}
				switch rapid.IntRange(0, 5).Draw(t, "between") {
				case 0:
					if len(seen) > 0 { // late index on the original
						cur.Merge(seen[rapid.IntRange(0, len(seen)-1).Draw(t, "again")])
					}
				case 1: // copy of the copy, taken over first
					cp2 := cp.CloneForKey(k)
					apply(chainEdit(cp2, "r1", k, rapid.IntRange(0, 2).Draw(t, "eop2"), n))
					cp2.TakeOver(cp)
					cp = cp2
				case 2: // value copy, as &Cart{m: *d}
					v := *cp
					cp = &v
				}
				checkIndexComplete(t, "orig before takeover", cur)
				cp.TakeOver(cur)
				cur = cp
			case 2: // remote small delta
				d := chainEdit(peer, "r2", chainKey(t, "chainKey"), rapid.IntRange(0, 2).Draw(t, "rop"), n)
				cur.Merge(d)
				ref.Merge(d)
			case 3: // direct local edit
				apply(chainEdit(cur, "r1", chainKey(t, "dkey"), rapid.IntRange(0, 2).Draw(t, "dop"), n))
			case 4:
				if len(seen) > 0 {
					cur.Merge(seen[rapid.IntRange(0, len(seen)-1).Draw(t, "again2")])
				}
			case 5: // peer learns everything and sends a full state sometimes
				if rapid.Bool().Draw(t, "full") {
					cur.Merge(peer)
					ref.Merge(peer)
				}
			}
			checkIndexComplete(t, fmt.Sprintf("step %d", step), cur)
			if !cur.Equal(ref) {
				t.Fatalf("step %d: cur differs from reference", step)
			}
		}
	})
}

// TestHasAgreesWithEachDot: DotSet.Has and DotFun.Has answer exactly
// the dots EachDot lists.
func TestHasAgreesWithEachDot(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reps := []ReplicaID{"a", "b", "c"}
		var f DotFun[counterPayload]
		var s DotSet
		for range rapid.IntRange(0, 40).Draw(t, "n") {
			d := Dot{Replica: rapid.SampledFrom(reps).Draw(t, "r"), Seq: rapid.Uint64Range(1, 30).Draw(t, "s")}
			f.Set(d, counterPayload(rapid.IntRange(0, 2).Draw(t, "v")))
			s.Add(d)
		}
		// Some removals, by a merge with a context that saw them.
		if rapid.Bool().Draw(t, "rm") {
			var ctx CausalContext
			for range rapid.IntRange(0, 10).Draw(t, "k") {
				ctx.Add(Dot{Replica: rapid.SampledFrom(reps).Draw(t, "rr"), Seq: rapid.Uint64Range(1, 30).Draw(t, "rs")})
			}
			var mine CausalContext
			for d := range f.EachDot {
				mine.Add(d)
			}
			f, _ = f.MergeDots(&mine, DotFun[counterPayload]{}, &ctx)
			s, _ = s.MergeDots(&mine, DotSet{}, &ctx)
		}
		inF, inS := map[Dot]bool{}, map[Dot]bool{}
		for d := range f.EachDot {
			inF[d] = true
		}
		for d := range s.EachDot {
			inS[d] = true
		}
		for _, r := range append(reps, "0", "z") {
			for q := uint64(1); q <= 32; q++ {
				d := Dot{Replica: r, Seq: q}
				if f.Has(d) != inF[d] || s.Has(d) != inS[d] {
					t.Fatalf("Has(%v): fun %v/%v set %v/%v", d, f.Has(d), inF[d], s.Has(d), inS[d])
				}
			}
		}
	})
}
