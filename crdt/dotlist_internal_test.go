package crdt

import (
	"slices"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// TestSeenUntilAgreesWithContains: the segments that the join walks
// hold what CausalContext.Contains says, at their start and everywhere up
// to the end seenUntil gives.
func TestSeenUntilAgreesWithContains(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c CausalContext
		for range rapid.IntRange(0, 20).Draw(t, "dots") {
			c.Add(Dot{Replica: "a", Seq: rapid.Uint64Range(1, 30).Draw(t, "s")})
		}
		e := c.entry("a")
		for s := uint64(1); s <= 40; s++ {
			seen, end := seenUntil(e, s)
			if end < s {
				t.Fatalf("seenUntil(%d) ends at %d, before it starts", s, end)
			}
			for x := s; x <= min(end, 40); x++ {
				if got := c.Contains(Dot{Replica: "a", Seq: x}); got != seen {
					t.Fatalf("seenUntil(%d) = %v up to %d, but Contains(%d) = %v", s, seen, end, x, got)
				}
			}
		}
	})
}

// TestMergeSmallDeltaAgreesWithMergeAll: for a long list joined with a
// delta of a few dots, the shortcut gives what walking both lists gives,
// leaves both inputs as they were, and takes the shortcut in most runs
// (the generator makes a delta remove an entry of l in about a third).
func TestMergeSmallDeltaAgreesWithMergeAll(t *testing.T) {
	replicas := []ReplicaID{"a", "b", "c"}
	took := 0
	rapid.Check(t, func(t *rapid.T) {
		dot := func(label string) Dot {
			return Dot{Replica: rapid.SampledFrom(replicas).Draw(t, label+" r"), Seq: rapid.Uint64Range(1, 80).Draw(t, label+" s")}
		}
		// Payloads per dot, or one for all so that runs form.
		same := rapid.Bool().Draw(t, "one payload")
		pay := func(d Dot) uint64 {
			if same {
				return 1
			}
			return d.Seq * 10
		}
		var l, o dotList[uint64]
		var ctx, octx CausalContext
		for range rapid.IntRange(4*smallDelta, 100).Draw(t, "len l") {
			d := dot("l")
			l = l.set(d, pay(d))
			ctx.Add(d)
		}
		for range rapid.IntRange(0, 30).Draw(t, "ctx only") {
			ctx.Add(dot("ctx")) // seen and since removed here
		}
		for range rapid.IntRange(0, smallDelta).Draw(t, "len o") {
			d := dot("o")
			if rapid.IntRange(0, 3).Draw(t, "one of ours") == 0 && len(l) > 0 {
				d = anyDot(t, l, "at")
			}
			o = o.set(d, pay(d))
			octx.Add(d)
		}
		if rapid.IntRange(0, 2).Draw(t, "removes") == 0 {
			octx.Add(anyDot(t, l, "removed"))
		}
		l0, o0 := slices.Clone(l), slices.Clone(o)
		got, _, gotChanged, ok := l.mergeSmallDelta(&ctx, o, &octx, nil)
		if !ok {
			return
		}
		took++
		want, wantChanged := l.mergeAll(&ctx, o, &octx)
		if !slices.Equal(got, want) || gotChanged != wantChanged {
			t.Fatalf("shortcut gave %v (changed %v), walking gave %v (changed %v)", got, gotChanged, want, wantChanged)
		}
		if !slices.Equal(l, l0) || !slices.Equal(o, o0) {
			t.Fatal("the shortcut changed an input")
		}
	})
	if took == 0 {
		t.Fatal("no run took the shortcut")
	}
}

// TestSharedListsAppendInPlaceApart: stores that share one list (a map and
// its copies) each join a delta of their own; every result holds exactly
// its own join, however the joins interleave across goroutines, and the
// shared list is unchanged: only the first to claim the list's room
// appends in place, the others copy.
func TestSharedListsAppendInPlaceApart(t *testing.T) {
	var base DotFun[counterPayload]
	var ctx CausalContext
	for s := range uint64(40) {
		d := Dot{Replica: "a", Seq: s + 1}
		base.Set(d, counterPayload(s))
		ctx.Add(d)
	}
	// One join that copies gives base room to grow, and a spare.
	d := Dot{Replica: "a", Seq: 41}
	base = joinDot(base, &ctx, d, 41)
	if base.spare == nil || cap(base.m) == len(base.m) {
		t.Fatalf("a join that copies left no room to grow (spare %v, len %d, cap %d)", base.spare, len(base.m), cap(base.m))
	}
	ctx.Add(d)
	before := slices.Clone(base.m)

	const writers = 8
	results := make([]DotFun[counterPayload], writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			d := Dot{Replica: "b", Seq: uint64(w + 1)} // each its own dot, all after base's
			c := ctx.Clone()
			results[w] = joinDot(base, &c, d, counterPayload(100+w))
		})
	}
	wg.Wait()
	if !slices.Equal(base.m, before) {
		t.Fatal("the shared list changed")
	}
	inPlace := 0
	for w, r := range results {
		want := append(slices.Clone(before), dotRun[counterPayload]{Dot{Replica: "b", Seq: uint64(w + 1)}, 1, counterPayload(100 + w)})
		if !slices.Equal(r.m, want) {
			t.Fatalf("writer %d's join holds %v, want base and its own dot only", w, r.m[len(before):])
		}
		if &r.m[0] == &base.m[0] {
			inPlace++
		}
	}
	if inPlace != 1 {
		t.Fatalf("%d joins appended into the shared array, want exactly 1", inPlace)
	}
}

// anyDot draws one of l's dots, from any place in any run.
func anyDot[V comparable](t *rapid.T, l dotList[V], label string) Dot {
	r := l[rapid.IntRange(0, len(l)-1).Draw(t, label+" run")]
	return Dot{Replica: r.dot.Replica, Seq: r.dot.Seq + rapid.Uint64Range(0, r.n-1).Draw(t, label+" offset")}
}

// joinDot joins into f, whose context is ctx, a delta of the one dot d
// mapped to v, as a replica's write of d does; ctx is not changed.
func joinDot(f DotFun[counterPayload], ctx *CausalContext, d Dot, v counterPayload) DotFun[counterPayload] {
	var delta DotFun[counterPayload]
	delta.Set(d, v)
	var dctx CausalContext
	dctx.Add(d)
	f, _ = f.MergeDots(ctx, delta, &dctx)
	return f
}

// counterPayload is a DotFun payload for the tests of this package.
type counterPayload uint64

func (p counterPayload) EncodePayload(e *Encoder) { e.Uint(uint64(p)) }

func (counterPayload) DecodePayload(r *Reader) (counterPayload, error) {
	n, err := r.Uint()
	return counterPayload(n), err
}

// TestSharedStoresStayIndependent: stores copied by value share their
// entries (as an ORMap and its copies do); whatever joins each copy then
// takes, in any order, every copy holds exactly what a store of its own
// would. The stores start long enough, and the deltas are small enough,
// that the joins append in place whenever they may.
func TestSharedStoresStayIndependent(t *testing.T) {
	replicas := []ReplicaID{"a", "b", "c"}
	rapid.Check(t, func(t *rapid.T) {
		type holder struct {
			f   DotFun[counterPayload]
			ref dotList[counterPayload] // the same join, never shared
			ctx CausalContext
		}
		// Payloads per dot, or one for all so that runs form.
		same := rapid.Bool().Draw(t, "one payload")
		pay := func(d Dot) counterPayload {
			if same {
				return 1
			}
			return counterPayload(d.Seq)
		}
		var first holder
		next := map[ReplicaID]uint64{}
		mint := func(r ReplicaID) Dot { next[r]++; return Dot{Replica: r, Seq: next[r]} }
		for range rapid.IntRange(4*smallDelta, 60).Draw(t, "start") {
			d := mint(rapid.SampledFrom(replicas).Draw(t, "r"))
			first.f.Set(d, pay(d))
			first.ref = first.ref.set(d, pay(d))
			first.ctx.Add(d)
		}
		holders := []*holder{&first}
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			h := holders[rapid.IntRange(0, len(holders)-1).Draw(t, "holder")]
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0: // copy: shares h's entries
				c := &holder{f: h.f, ref: slices.Clone(h.ref), ctx: h.ctx.Clone()}
				holders = append(holders, c)
			case 1: // set a new dot directly, as a mutator does
				d := mint(rapid.SampledFrom(replicas).Draw(t, "set r"))
				h.f.Set(d, pay(d))
				h.ref = slices.Clone(h.ref).set(d, pay(d))
				h.ctx.Add(d)
			default: // join a delta of a few new dots, maybe removing one of h's
				var delta DotFun[counterPayload]
				var dctx CausalContext
				for range rapid.IntRange(1, 3).Draw(t, "dots") {
					d := mint(rapid.SampledFrom(replicas).Draw(t, "delta r"))
					delta.Set(d, pay(d))
					dctx.Add(d)
				}
				if len(h.ref) > 0 && rapid.IntRange(0, 4).Draw(t, "remove") == 0 {
					dctx.Add(anyDot(t, h.ref, "removed"))
				}
				h.f, _ = h.f.MergeDots(&h.ctx, delta, &dctx)
				h.ref, _ = slices.Clone(h.ref).mergeAll(&h.ctx, delta.m, &dctx)
				h.ctx.Merge(&dctx)
			}
			for i, o := range holders {
				if !slices.Equal(o.f.m, o.ref) {
					t.Fatalf("copy %d holds %v, want %v", i, o.f.m, o.ref)
				}
			}
		}
	})
}
