package cart

import (
	"fmt"
	"testing"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// benchCart returns a cart of n lines built by one replica, and its clock.
func benchCart(b *testing.B, id string, n int) (*Cart, *crdt.HLC) {
	b.Helper()
	clk, _ := crdt.NewHLC(crdt.ReplicaID(id))
	now := time.Unix(1_800_000_000, 0)
	c := New()
	for i := range n {
		if _, err := c.Add(clk.Now(now), fmt.Sprintf("item-%05d", i), 2); err != nil {
			b.Fatal(err)
		}
		if _, err := c.SetPrice(clk.Now(now), fmt.Sprintf("item-%05d", i), 125); err != nil {
			b.Fatal(err)
		}
	}
	return c, clk
}

var sizes = []int{10, 100, 10_000}

// BenchmarkAdd adds to an existing line. Adds accumulate as separate
// increments until a set or remove absorbs them (each may meet a concurrent
// set elsewhere), so the line is reset with a set every 32 adds: the cost
// measured is that of a line with up to 32 pending increments.
func BenchmarkAdd(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			c, clk := benchCart(b, "r-0123456789abcdef", n)
			now := time.Unix(1_800_000_000, 0)
			var bytes int
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%32 == 31 {
					if _, err := c.SetQuantity(clk.Now(now), "item-00001", 1); err != nil {
						b.Fatal(err)
					}
				}
				d, err := c.Add(clk.Now(now), "item-00001", 1)
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					enc, _ := d.MarshalBinary()
					bytes = len(enc)
				}
			}
			b.ReportMetric(float64(bytes), "bytes/delta")
		})
	}
}

// BenchmarkAddPending adds to a line that already holds many pending
// increments, as the daemon does: copy the cart for the item, add to the
// copy, and keep the copy for the next add. A line keeps every add until a
// set or remove absorbs it, so this is the cost of the next add to a line
// that many adds have grown; the line goes back to its starting length
// every 64 adds.
func BenchmarkAddPending(b *testing.B) {
	for _, pending := range []int{8, 256, 1024} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			base, clk := pendingCart(b, pending)
			now := time.Unix(1_800_000_000, 0)
			c := base
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%64 == 0 {
					c = base
				}
				next := c.CloneForItem("x")
				if _, err := next.Add(clk.Now(now), "x", 1); err != nil {
					b.Fatal(err)
				}
				c = next
			}
		})
	}
}

func BenchmarkSetQuantity(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			c, clk := benchCart(b, "r-0123456789abcdef", n)
			now := time.Unix(1_800_000_000, 0)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.SetQuantity(clk.Now(now), "item-00001", uint64(i%9+1)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMergeState joins two replicas' full states of n lines each, half
// of them shared.
func BenchmarkMergeState(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			a, _ := benchCart(b, "r-aaaaaaaaaaaaaaaa", n)
			o, clk := benchCart(b, "r-bbbbbbbbbbbbbbbb", n/2)
			o.Merge(a.Clone())
			now := time.Unix(1_800_000_001, 0)
			for i := range n / 2 {
				o.Add(clk.Now(now), fmt.Sprintf("other-%05d", i), 1)
			}
			b.ReportAllocs()
			for b.Loop() {
				dst := a.Clone()
				dst.Merge(o)
			}
		})
	}
}

// BenchmarkMergeDelta applies one add delta to a cart of n lines: the cost
// a node pays per replicated edit.
func BenchmarkMergeDelta(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			dst, _ := benchCart(b, "r-aaaaaaaaaaaaaaaa", n)
			src, clk := benchCart(b, "r-bbbbbbbbbbbbbbbb", 0)
			now := time.Unix(1_800_000_001, 0)
			deltas := make([]*Cart, 1000)
			for i := range deltas {
				d, _ := src.Add(clk.Now(now), "apple", 1)
				deltas[i] = d
				if i%500 == 499 {
					src.Remove("apple")
				}
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				dst.Merge(deltas[i%len(deltas)])
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			c, _ := benchCart(b, "r-0123456789abcdef", n)
			benchEncode(b, c)
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			c, _ := benchCart(b, "r-0123456789abcdef", n)
			enc, _ := c.MarshalBinary()
			b.ReportAllocs()
			for b.Loop() {
				if err := New().UnmarshalBinary(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkView(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			c, _ := benchCart(b, "r-0123456789abcdef", n)
			b.ReportAllocs()
			for b.Loop() {
				if v := c.View(); len(v.Lines) != n {
					b.Fatalf("got %d lines, want %d", len(v.Lines), n)
				}
			}
		})
	}
}

// BenchmarkEncodePending encodes a cart whose one line holds many pending
// increments, as a stream of adds to one item leaves it.
func BenchmarkEncodePending(b *testing.B) {
	for _, pending := range []int{256, 1024} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			c, _ := pendingCart(b, pending)
			benchEncode(b, c)
		})
	}
}

// pendingCart returns a cart whose one line, item "x", holds n adds of one
// replica, and that replica's clock.
func pendingCart(b *testing.B, n int) (*Cart, *crdt.HLC) {
	b.Helper()
	clk, _ := crdt.NewHLC("r-0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	c := New()
	for range n {
		if _, err := c.Add(clk.Now(now), "x", 1); err != nil {
			b.Fatal(err)
		}
	}
	return c, clk
}

// benchEncode measures c.MarshalBinary and reports the encoding's size.
func benchEncode(b *testing.B, c *Cart) {
	var size int
	b.ReportAllocs()
	for b.Loop() {
		enc, err := c.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		size = len(enc)
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkAddPendingIndexed is BenchmarkAddPending on a cart of several
// lines that has merged a peer's delta, as carts in a cluster do: the merge
// builds the cart's index of dots, which every copy that replaces the cart
// (TakeOver) must keep up to date.
func BenchmarkAddPendingIndexed(b *testing.B) {
	for _, pending := range []int{8, 1024} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			base, clk := pendingCart(b, pending)
			now := time.Unix(1_800_000_000, 0)
			peer, _ := crdt.NewHLC("r-fedcba9876543210")
			for i := range 8 {
				d, err := base.Clone().Add(peer.Now(now), fmt.Sprintf("peer-%d", i), 1)
				if err != nil {
					b.Fatal(err)
				}
				base.Merge(d)
			}
			indexed := func() *Cart {
				c := base.Clone()
				d, err := c.Clone().Add(peer.Now(now), "peer-0", 1)
				if err != nil {
					b.Fatal(err)
				}
				c.Merge(d) // a small delta: the merge builds the index
				return c
			}
			c := indexed()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%64 == 63 {
					b.StopTimer()
					c = indexed()
					b.StartTimer()
				}
				next := c.CloneForItem("x")
				if _, err := next.Add(clk.Now(now), "x", 1); err != nil {
					b.Fatal(err)
				}
				next.TakeOver(c)
				c = next
			}
		})
	}
}

// BenchmarkSetFoldsAdds sets the quantity of a line that holds many adds:
// the set supersedes every one of them, each checked against the line with
// a lookup (crdt.DotLookup).
func BenchmarkSetFoldsAdds(b *testing.B) {
	for _, pending := range []int{1024, 10_000, 99_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			base, clk := pendingCart(b, pending)
			now := time.Unix(1_800_000_000, 0)
			b.ReportAllocs()
			for b.Loop() {
				c := base.CloneForItem("x")
				if _, err := c.SetQuantity(clk.Now(now), "x", 3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
