package crdt_test

import (
	"fmt"
	"testing"

	"github.com/crdtd/crdtd/crdt"
)

// Benchmarks (docs/benchmarks.md): operation, merge and codec costs against
// size, and bytes per delta. Run with
//
//	go test -run '^$' -bench . -benchmem ./crdt/

var benchSizes = []int{10, 1_000, 100_000}

// benchSets returns two replicas' full ORSets of n elements each, half of
// them shared: a holds 0..n-1 and b holds n/2..3n/2-1, each side having seen
// the shared half from the other.
func benchSets(n int) (a, b *crdt.ORSet[int]) {
	a, b = &crdt.ORSet[int]{}, &crdt.ORSet[int]{}
	for i := range n / 2 {
		a.Add("a", i)
	}
	for i := n / 2; i < n; i++ {
		b.Merge(noErr(a.Add("a", i)))
	}
	for i := n; i < n+n/2; i++ {
		b.Add("b", i)
	}
	return a, b
}

func BenchmarkORSetAdd(b *testing.B) {
	var s crdt.ORSet[int]
	var size int
	for i := 0; b.Loop(); i++ {
		d := noErr(s.Add("a", i%1000))
		if i == 0 {
			buf, _ := d.MarshalBinary()
			size = len(buf)
		}
	}
	b.ReportMetric(float64(size), "bytes/delta")
}

func BenchmarkORSetRemove(b *testing.B) {
	var s crdt.ORSet[int]
	for i := range 1000 {
		s.Add("a", i)
	}
	var size int
	for i := 0; b.Loop(); i++ {
		d := s.Remove(i % 1000)
		s.Add("a", i%1000)
		if i == 0 {
			buf, _ := d.MarshalBinary()
			size = len(buf)
		}
	}
	b.ReportMetric(float64(size), "bytes/delta")
}

func BenchmarkGCounterInc(b *testing.B) {
	var g crdt.GCounter
	for i := range 8 {
		if _, err := g.Inc(rid(i), 1); err != nil {
			b.Fatal(err)
		}
	}
	var size int
	for i := 0; b.Loop(); i++ {
		d, err := g.Inc("r3", 1)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			buf, _ := d.MarshalBinary()
			size = len(buf)
		}
	}
	b.ReportMetric(float64(size), "bytes/delta")
}

func BenchmarkGCounterValue(b *testing.B) {
	var g crdt.GCounter
	for i := range 8 {
		if _, err := g.Inc(rid(i), 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var sink uint64
	for b.Loop() {
		v, _ := g.Value()
		sink += v
	}
	_ = sink
}

func BenchmarkPNCounterIncDec(b *testing.B) {
	var c crdt.PNCounter
	var size int
	for i := 0; b.Loop(); i++ {
		var d *crdt.PNCounter
		var err error
		if i%2 == 0 {
			d, err = c.Inc("a", 3)
		} else {
			d, err = c.Dec("a", 2)
		}
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			buf, _ := d.MarshalBinary()
			size = len(buf)
		}
	}
	b.ReportMetric(float64(size), "bytes/delta")
}

// BenchmarkORSetMerge joins two full states of n elements each, half of
// them shared.
func BenchmarkORSetMerge(b *testing.B) {
	for _, n := range []int{10, 1_000, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x, y := benchSets(n)
			for range b.N {
				b.StopTimer()
				z := x.Clone()
				b.StartTimer()
				z.Merge(y)
			}
		})
	}
}

// BenchmarkORSetMergeDelta merges one-element deltas into a set of n: the
// common case on the gossip fast path. add-new adds an element the set
// lacks; remove+add removes an element and adds it back (two deltas per op).
func BenchmarkORSetMergeDelta(b *testing.B) {
	for _, n := range benchSizes {
		for _, op := range []string{"add-new", "add-existing", "remove+add"} {
			b.Run(fmt.Sprintf("%d/%s", n, op), func(b *testing.B) {
				x, _ := benchSets(n)
				src := x.Clone()
				var ds []*crdt.ORSet[int]
				for i := range b.N {
					switch op {
					case "add-new":
						ds = append(ds, noErr(src.Add("c", -i-1)))
					case "add-existing":
						ds = append(ds, noErr(src.Add("c", i%n)))
					case "remove+add":
						ds = append(ds, src.Remove(i%n), noErr(src.Add("c", i%n)))
					}
				}
				b.ResetTimer()
				for _, d := range ds {
					x.Merge(d)
				}
				b.StopTimer()
				if !x.Equal(src) {
					b.Fatal("receiver differs from sender after merging all deltas")
				}
			})
		}
	}
}

func BenchmarkORSetEncode(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x, y := benchSets(n)
			x.Merge(y)
			var size int
			for b.Loop() {
				buf, err := x.MarshalBinary()
				if err != nil {
					b.Fatal(err)
				}
				size = len(buf)
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

func BenchmarkORSetDecode(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x, y := benchSets(n)
			x.Merge(y)
			buf, err := x.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				var z crdt.ORSet[int]
				if err := z.UnmarshalBinary(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkORMapLineDelta measures a cart-shaped update: the delta of an
// add to one line of a map of 1,000 lines, and its size on the wire.
func BenchmarkORMapLineDelta(b *testing.B) {
	var m lineMap
	for i := range 1000 {
		lineAdd(&m, "7f3e1c2a-5b6d-4e8f", fmt.Sprintf("sku-%04d", i), 1)
	}
	var size int
	for i := 0; b.Loop(); i++ {
		d := lineSet(&m, "7f3e1c2a-5b6d-4e8f", fmt.Sprintf("sku-%04d", i%1000), 2)
		if i == 0 {
			buf, _ := d.MarshalBinary()
			size = len(buf)
		}
	}
	b.ReportMetric(float64(size), "bytes/delta")
}
