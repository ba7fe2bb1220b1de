package crdt

import (
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// canonicalList builds the list that holds exactly m's entries: sorted,
// in maximal runs.
func canonicalList[V comparable](m map[Dot]V) dotList[V] {
	var l dotList[V]
	for _, d := range slices.SortedFunc(maps.Keys(m), Dot.Compare) {
		l = l.push(dotRun[V]{dot: d, n: 1, val: m[d]})
	}
	return l
}

// checkCanonical fails t unless l's runs are non-empty, sorted, disjoint
// and maximal.
func checkCanonical[V comparable](t *rapid.T, what string, l dotList[V]) {
	for i, r := range l {
		if r.n == 0 {
			t.Fatalf("%s: run %d is empty: %v", what, i, l)
		}
		if i == 0 {
			continue
		}
		p := l[i-1]
		if (Dot{Replica: p.dot.Replica, Seq: p.last()}).Compare(r.dot) >= 0 {
			t.Fatalf("%s: runs %d and %d overlap or are out of order: %v", what, i-1, i, l)
		}
		if p.joins(r) {
			t.Fatalf("%s: runs %d and %d should be one: %v", what, i-1, i, l)
		}
	}
}

// TestRunsHoldWhatDotsHold: a list of runs, built by set and joined by
// merge (either path), holds exactly the entries that the same operations
// give dot by dot on a map, in canonical form, and neither operation
// changes its inputs. Payloads come from two values, so that runs form,
// split and join.
func TestRunsHoldWhatDotsHold(t *testing.T) {
	replicas := []ReplicaID{"a", "b"}
	took := 0
	rapid.Check(t, func(t *rapid.T) {
		dot := func(label string) Dot {
			return Dot{Replica: rapid.SampledFrom(replicas).Draw(t, label+" r"), Seq: rapid.Uint64Range(1, 40).Draw(t, label+" s")}
		}
		pay := func(label string) uint64 { return rapid.Uint64Range(1, 2).Draw(t, label) }
		// A peer's state may name dots its context lacks: the join must
		// still be the dot-by-dot one.
		hostile := rapid.IntRange(0, 3).Draw(t, "hostile") == 0
		build := func(label string, n int) (dotList[uint64], map[Dot]uint64, CausalContext) {
			var l dotList[uint64]
			m := map[Dot]uint64{}
			var ctx CausalContext
			for range n {
				d, v := dot(label), pay(label+" v")
				before := slices.Clone(l)
				l = l.set(d, v)
				m[d] = v
				if !hostile || rapid.Bool().Draw(t, label+" in ctx") {
					ctx.Add(d)
				}
				if !slices.Equal(before, l) && len(before) > 0 && &before[0] == &l[0] {
					t.Fatalf("set wrote into the list it was given")
				}
				if want := canonicalList(m); !slices.Equal(l, want) {
					t.Fatalf("after set(%v, %d): %v, want %v", d, v, l, want)
				}
			}
			for range rapid.IntRange(0, 15).Draw(t, label+" seen only") {
				ctx.Add(dot(label + " ctx")) // seen and since removed
			}
			return l, m, ctx
		}
		small := rapid.Bool().Draw(t, "small delta")
		l, lm, ctx := build("l", rapid.IntRange(0, 60).Draw(t, "len l"))
		oLen := rapid.IntRange(0, 60).Draw(t, "len o")
		if small {
			oLen = rapid.IntRange(0, 3).Draw(t, "len small o")
		}
		o, om, octx := build("o", oLen)
		// Dots on both sides carry the same payload: a dot's payload is
		// fixed when it is made.
		for d := range om {
			if v, ok := lm[d]; ok {
				om[d] = v
				o = o.set(d, v)
			}
		}
		if small {
			// A small delta's context holds its own dots and maybe one of l's.
			octx = CausalContext{}
			for d := range om {
				octx.Add(d)
			}
			if len(lm) > 0 && rapid.Bool().Draw(t, "removes one") {
				ds := slices.SortedFunc(maps.Keys(lm), Dot.Compare)
				octx.Add(ds[rapid.IntRange(0, len(ds)-1).Draw(t, "removed")])
			}
		}
		want := map[Dot]uint64{}
		for d, v := range lm {
			if _, both := om[d]; both || !octx.Contains(d) {
				want[d] = v
			}
		}
		for d, v := range om {
			if _, ours := lm[d]; !ours && !ctx.Contains(d) {
				want[d] = v
			}
		}
		wantList := canonicalList(want)
		wantChanged := !slices.Equal(wantList, l)
		l0, o0 := slices.Clone(l), slices.Clone(o)

		got, _, changed := l.merge(&ctx, o, &octx, nil)
		checkCanonical(t, "merge", got)
		if !slices.Equal(got, wantList) || changed != wantChanged {
			t.Fatalf("merge gave %v (changed %v), want %v (changed %v)", got, changed, wantList, wantChanged)
		}
		all, allChanged := l.mergeAll(&ctx, o, &octx)
		if !slices.Equal(all, wantList) || allChanged != wantChanged {
			t.Fatalf("mergeAll gave %v (changed %v), want %v (changed %v)", all, allChanged, wantList, wantChanged)
		}
		if _, _, _, ok := l.mergeSmallDelta(&ctx, o, &octx, nil); ok {
			took++
		}
		// The same join of a list with room to grow, which it may
		// append into, leaving what the list held as it was.
		roomy := append(make(dotList[uint64], 0, len(l)+smallDelta), l...)
		sp := newSpare(len(roomy))
		got, gotSpare, changed := roomy.merge(&ctx, o, &octx, sp)
		checkCanonical(t, "merge with room", got)
		if !slices.Equal(got, wantList) || changed != wantChanged {
			t.Fatalf("merge with room gave %v (changed %v), want %v (changed %v)", got, changed, wantList, wantChanged)
		}
		if !slices.Equal(roomy, l0) {
			t.Fatal("merge with room changed the list's own entries")
		}
		if gotSpare != nil && gotSpare.used.Load() != int64(len(got)) {
			t.Fatalf("the join's spare says %d entries in use, it holds %d", gotSpare.used.Load(), len(got))
		}
		if !slices.Equal(l, l0) || !slices.Equal(o, o0) {
			t.Fatal("merge changed an input")
		}
	})
	if took == 0 {
		t.Fatal("no case took the small-delta path")
	}
}

// TestALineOfAddsIsOneRun: a replica's adds of one to a store, one dot
// after another, are held in one run however many there are, and each
// add's join with the store copies one run, not the adds.
func TestALineOfAddsIsOneRun(t *testing.T) {
	var f DotFun[counterPayload]
	var ctx CausalContext
	for s := range uint64(1000) {
		d := Dot{Replica: "a", Seq: s + 1}
		f = joinDot(f, &ctx, d, 1)
		ctx.Add(d)
	}
	if len(f.m) != 1 || f.Len() != 1000 {
		t.Fatalf("1,000 adds are held in %d runs of %d entries in all, want 1 run of 1,000", len(f.m), f.Len())
	}
	if cap(f.m) > 2 {
		t.Fatalf("the store's array has room for %d runs, want at most 2", cap(f.m))
	}
}

// TestSetRefusesSequenceNumbersOutOfRange: no minted or decoded dot has a
// sequence number outside 1..MaxSeq, and the join's arithmetic on runs
// relies on that, so a store refuses one loudly rather than hold it.
func TestSetRefusesSequenceNumbersOutOfRange(t *testing.T) {
	for _, seq := range []uint64{0, MaxSeq + 1, 1<<64 - 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Set of a dot with sequence number %d did not panic", seq)
				}
			}()
			var f DotFun[counterPayload]
			f.Set(Dot{Replica: "a", Seq: seq}, 1)
		}()
	}
	var f DotFun[counterPayload]
	f.Set(Dot{Replica: "a", Seq: MaxSeq}, 1) // the last valid one
	if f.Len() != 1 {
		t.Fatalf("a dot at MaxSeq was not kept: %d entries", f.Len())
	}
}
