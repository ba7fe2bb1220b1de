package gossip

import (
	"runtime"
	"strconv"
	"testing"
)

// digestBytesPerKey builds a digest of n keys shaped like the daemon's
// ("c/cart-000123456") and returns the live heap it takes per key after a
// GC, key strings included: the digest is what keeps them.
func digestBytesPerKey(n int) float64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	d := newDigest()
	for i := range n {
		d.setHash(genKey(i), mix(uint64(i))|1)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(d)
	return float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(n)
}

// maxDigestBytesPerKey is what a digest may take per key: a node of 5
// million objects keeps its digest under about 350 MB.
const maxDigestBytesPerKey = 70

func TestDigestMemoryPerKey(t *testing.T) {
	const n = 100_000
	got := digestBytesPerKey(n)
	t.Logf("digest of %d keys: %.1f bytes per key", n, got)
	if got > maxDigestBytesPerKey {
		t.Fatalf("digest of %d keys takes %.1f bytes per key, want at most %d", n, got, maxDigestBytesPerKey)
	}
}

// BenchmarkDigestMemory reports the digest's live heap per key at 100,000
// and 1,000,000 keys (the loop only repeats the measurement).
func BenchmarkDigestMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var got float64
			for b.Loop() {
				got = digestBytesPerKey(n)
			}
			b.ReportMetric(got, "bytes/key")
			b.ReportMetric(0, "ns/op")
		})
	}
}
