package crdt_test

import (
	"fmt"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// Two replicas count page views independently and exchange deltas.
func ExampleGCounter() {
	var phone, laptop crdt.GCounter
	d1, _ := phone.Inc("phone", 2)
	d2, _ := laptop.Inc("laptop", 3)

	// Ship each delta to the other replica; duplicates are harmless.
	laptop.Merge(d1)
	phone.Merge(d2)
	changed := phone.Merge(d2)

	v, _ := phone.Value()
	w, _ := laptop.Value()
	fmt.Println(v, w, changed)

	_, err := phone.Inc("phone", 0)
	fmt.Println(err)
	// Output:
	// 5 5 false
	// gcounter inc: amount must be positive
}

func ExamplePNCounter() {
	var a, b crdt.PNCounter
	da, _ := a.Inc("a", 10)
	db, _ := b.Dec("b", 4)
	a.Merge(db)
	b.Merge(da)

	va, _ := a.Value()
	vb, _ := b.Value()
	fmt.Println(va, vb)
	// Output: 6 6
}

// The write made after observing the other wins, although the writer's
// physical clock is behind.
func ExampleLWWRegister() {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	phoneClock, _ := crdt.NewHLC("phone")
	laptopClock, _ := crdt.NewHLC("laptop")

	var phone, laptop crdt.LWWRegister[string]
	d1 := phone.Set(phoneClock.Now(t0), "red")
	laptop.Merge(d1)
	laptopClock.Observe(d1.Timestamp())

	d2 := laptop.Set(laptopClock.Now(t0.Add(-time.Second)), "blue")
	phone.Merge(d2)

	v, _ := phone.Value()
	fmt.Println(v, phone.Equal(&laptop))
	// Output: blue true
}

// A remove wins only over the adds it has seen: an add concurrent with it
// survives (add-wins).
func ExampleORSet() {
	var phone, laptop crdt.ORSet[string]
	laptop.Merge(noErr(phone.Add("phone", "apple")))
	laptop.Merge(noErr(phone.Add("phone", "pear")))

	// Concurrently: the phone removes apple, the laptop adds it again.
	rm := phone.Remove("apple")
	add := noErr(laptop.Add("laptop", "apple"))
	phone.Merge(add)
	laptop.Merge(rm)

	fmt.Println(phone.Elements(), laptop.Elements())

	// A second remove, made after seeing the re-add, removes it everywhere.
	laptop.Merge(phone.Remove("apple"))
	fmt.Println(phone.Elements(), laptop.Elements(), phone.Equal(&laptop))
	// Output:
	// [apple pear] [apple pear]
	// [pear] [pear] true
}

// qty is a DotFun payload: the quantity one update added.
type qty uint64

func (q qty) EncodePayload(e *crdt.Encoder) { e.Uint(uint64(q)) }

func (qty) DecodePayload(r *crdt.Reader) (qty, error) {
	n, err := r.Uint()
	return qty(n), err
}

// An ORMap of DotFuns holds, per key, the surviving updates. A remove
// resets a key: a concurrent add survives with its own quantity only.
func ExampleORMap() {
	type cart = crdt.ORMap[string, crdt.DotFun[qty]]
	add := func(c *cart, id crdt.ReplicaID, item string, n qty) *cart {
		return noErr(c.Update(id, item, func(_ crdt.DotFun[qty], next func() crdt.Dot) crdt.Mutation[crdt.DotFun[qty]] {
			var mu crdt.Mutation[crdt.DotFun[qty]]
			mu.Add.Set(next(), n)
			return mu
		}))
	}
	total := func(c *cart, item string) (sum qty) {
		c.Peek(item, func(f crdt.DotFun[qty]) {
			for _, n := range f.All {
				sum += n
			}
		})
		return sum
	}

	var phone, laptop cart
	laptop.Merge(add(&phone, "phone", "apple", 3))

	rm := phone.Remove("apple")
	d := add(&laptop, "laptop", "apple", 1) // concurrent with the remove
	phone.Merge(d)
	laptop.Merge(rm)

	fmt.Println(phone.Keys(), total(&phone, "apple"), total(&laptop, "apple"))
	// Output: [apple] 1 1
}

func ExampleHLC() {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clock, _ := crdt.NewHLC("a")

	fmt.Println(clock.Now(t0))
	// Physical time stalls or goes back: the logical counter orders events.
	fmt.Println(clock.Now(t0.Add(-time.Second)))

	// A remote timestamp from a clock 2 ms ahead: accept it if within the
	// allowed drift, then the next local reading orders after it.
	remote := crdt.Timestamp{Wall: t0.Add(2 * time.Millisecond).UnixNano(), Logical: 5, Replica: "b"}
	if err := crdt.CheckDrift(remote, t0, time.Second); err == nil {
		clock.Observe(remote)
	}
	next := clock.Now(t0)
	fmt.Println(next, next.After(remote))

	err := crdt.CheckDrift(remote, t0, time.Millisecond)
	fmt.Println(err)
	// Output:
	// 1735787045000000000.0@a
	// 1735787045000000000.1@a
	// 1735787045002000000.6@a true
	// timestamp 1735787045002000000.5@b is 2ms ahead of local time (max drift 1ms)
}

// A context tracks seen dots compactly, even when they arrive out of order.
func ExampleCausalContext() {
	var c crdt.CausalContext
	c.Add(crdt.Dot{Replica: "a", Seq: 1})
	c.Add(crdt.Dot{Replica: "a", Seq: 3}) // a gap: a:2 not seen yet
	fmt.Println(c.Contains(crdt.Dot{Replica: "a", Seq: 2}), c.Max("a"))

	c.Add(crdt.Dot{Replica: "a", Seq: 2}) // the gap fills; the context compacts
	var seen []crdt.Dot
	for d := range c.Dots {
		seen = append(seen, d)
	}
	fmt.Println(seen)
	fmt.Println(noErr(c.Next("a")), noErr(c.Next("b")))
	// Output:
	// false 3
	// [a:1 a:2 a:3]
	// a:4 b:1
}

// Merging dot stores: a dot survives unless the other side has seen it and
// dropped it.
func ExampleDotSet() {
	var ctxA, ctxB crdt.CausalContext
	var a, b crdt.DotSet
	d1, d2 := noErr(ctxA.Next("a")), noErr(ctxA.Next("a"))
	a.Add(d1)
	a.Add(d2)
	// b has seen d1 and dropped it, and has its own d3.
	ctxB.Add(d1)
	d3 := noErr(ctxB.Next("b"))
	b.Add(d3)

	joined, changed := a.Clone().MergeDots(&ctxA, b, &ctxB)
	fmt.Println(joined.Has(d1), joined.Has(d2), joined.Has(d3), changed)
	// Output: false true true true
}

func ExampleDotFun() {
	var f crdt.DotFun[qty]
	var ctx crdt.CausalContext
	f.Set(noErr(ctx.Next("a")), 2)
	f.Set(noErr(ctx.Next("a")), 5)
	var sum qty
	for _, n := range f.All {
		sum += n
	}
	v, ok := f.Get(crdt.Dot{Replica: "a", Seq: 2})
	fmt.Println(f.Len(), sum, v, ok)
	// Output: 2 7 5 true
}

// A replica that maps dot after dot to the same payload makes one run:
// three adds of one and an add of two are two runs, of 3 and 1 entries.
func ExampleRun() {
	var f crdt.DotFun[qty]
	var ctx crdt.CausalContext
	for _, n := range []qty{1, 1, 1, 2} {
		f.Set(noErr(ctx.Next("a")), n)
	}
	var sum qty
	for r := range f.Runs {
		fmt.Println(r.First, r.N, r.Val)
		sum += qty(r.N) * r.Val
	}
	fmt.Println(f.Len(), sum)
	// Output:
	// a:1 3 1
	// a:4 1 2
	// 4 5
}

// A store that can look up one dot ([crdt.DotLookup]) lets an update check
// the dots it supersedes one by one, however many its key holds.
func ExampleDotLookup() {
	var s crdt.DotSet
	s.Add(crdt.Dot{Replica: "r1", Seq: 1})
	s.Add(crdt.Dot{Replica: "r1", Seq: 2})
	var l crdt.DotLookup = s
	fmt.Println(l.Has(crdt.Dot{Replica: "r1", Seq: 2}), l.Has(crdt.Dot{Replica: "r2", Seq: 1}))
	// Output: true false
}

// A map of stores that merge by copy shares them with its copies: editing
// the copy replaces its stores and leaves the original's as they were.
func ExampleMergesByCopy() {
	type tags = crdt.ORMap[string, crdt.DotSet]
	tag := func(m *tags, id crdt.ReplicaID, k string) {
		noErr(m.Update(id, k, func(_ crdt.DotSet, next func() crdt.Dot) crdt.Mutation[crdt.DotSet] {
			var mu crdt.Mutation[crdt.DotSet]
			mu.Add.Add(next())
			return mu
		}))
	}
	var orig tags
	tag(&orig, "r1", "red")
	_, shared := any(crdt.DotSet{}).(crdt.MergesByCopy)

	cp := orig.CloneForKey("red") // shares the store under "red"
	tag(cp, "r1", "red")          // a new store for "red" in the copy
	cp.Remove("red")
	fmt.Println(shared, orig.Keys(), cp.Keys())
	// Output: true [red] []
}
