package gossip

import (
	"fmt"
	"testing"
	"time"
)

func TestDigestXOR(t *testing.T) {
	t.Parallel()
	a, b := newDigest(), newDigest()
	if a.Root() != 0 {
		t.Fatalf("empty root %x, want 0", a.Root())
	}
	// Insertion order does not matter.
	for i := range 100 {
		a.set(fmt.Sprint("k", i), []byte(fmt.Sprint("v", i)), true)
	}
	for i := 99; i >= 0; i-- {
		b.set(fmt.Sprint("k", i), []byte(fmt.Sprint("v", i)), true)
	}
	if a.Root() != b.Root() || a.Root() == 0 {
		t.Fatalf("roots %x and %x, want equal and non-zero", a.Root(), b.Root())
	}
	// Updating and reverting a key restores the root (XOR out, XOR in).
	root := a.Root()
	if !a.set("k5", []byte("other"), true) {
		t.Fatal("set reported no change")
	}
	if a.Root() == root {
		t.Fatal("root unchanged after update")
	}
	diff := diffBuckets(&a.snapshot().Buckets, &b.snapshot().Buckets)
	if len(diff) != 1 || int(diff[0]) != bucketOf("k5") {
		t.Fatalf("diff %v, want [%d]", diff, bucketOf("k5"))
	}
	k5 := subSet{Bucket: diff[0]}
	k5.Subs.add(subBucketOf("k5"))
	if keys := a.keysIn([]subSet{k5}); !contains(keys, "k5") {
		t.Fatalf("keysIn(%v) = %v, want it to contain k5", k5, keys)
	}
	a.set("k5", []byte("v5"), true)
	if a.Root() != root {
		t.Fatal("root differs after revert")
	}
	if a.set("k5", []byte("v5"), true) {
		t.Fatal("idempotent set reported a change")
	}
	// Removing every key gives the empty digest.
	for i := range 100 {
		a.set(fmt.Sprint("k", i), nil, false)
	}
	if s := a.snapshot(); s.Root != 0 || s.Keys != 0 || s.Buckets != [digestBuckets]uint64{} {
		t.Fatalf("after removing all: %+v", s)
	}
}

func TestObjectHashSeparatesKeyAndState(t *testing.T) {
	t.Parallel()
	if ObjectHash("ab", []byte("c")) == ObjectHash("a", []byte("bc")) {
		t.Fatal("key/state boundary not hashed")
	}
	if ObjectHash("", nil) == 0 {
		t.Fatal("zero object hash")
	}
}

func TestDigestBucketSpread(t *testing.T) {
	t.Parallel()
	var counts [digestBuckets]int
	for i := range 25600 {
		counts[bucketOf(fmt.Sprint("cart-", i))]++
	}
	for b, c := range counts {
		if c < 40 || c > 180 {
			t.Fatalf("bucket %d has %d of 25600 keys, want about 100", b, c)
		}
	}
}

func BenchmarkDigestUpdate(b *testing.B) {
	d := newDigest()
	for i := range 100_000 {
		d.set(fmt.Sprint("k", i), []byte("state"), true)
	}
	state := []byte("a typical cart state of some tens of bytes....")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.set("k42", state[:i%len(state)], true)
	}
}

// TestNewBuildsDigestFromHashes starts a node on a Delegate holding objects:
// the node must build the digest from Delegate.Hashes alone, calling State
// for none of them, and the digest, once loaded, must equal one built from
// the states.
func TestNewBuildsDigestFromHashes(t *testing.T) {
	t.Parallel()
	d := newSetDelegate()
	want := newDigest()
	for i := range 500 {
		k := fmt.Sprint("k", i)
		d.add(k, "v")
		d.add(k, fmt.Sprint("w", i))
		s, _ := d.State(k)
		want.set(k, s, true)
	}
	d.states.Store(0)
	c := newTestCluster(t, func(_ int, cfg *Config) {
		cfg.SkipDigest = func(key string) bool { return key == "k7" }
	})
	n := c.start(0, d, 0)
	deadline := time.Now().Add(10 * time.Second)
	for !n.DigestLoaded() {
		if time.Now().After(deadline) {
			t.Fatal("digest not loaded after 10s")
		}
		time.Sleep(time.Millisecond)
	}
	if got := d.states.Load(); got != 0 {
		t.Errorf("New called State %d times, want 0", got)
	}
	want.set("k7", nil, false) // SkipDigest keeps it out
	if got, w := n.digest.snapshot(), want.snapshot(); *got != *w {
		t.Fatalf("digest from hashes: %d keys, root %x; from states: %d keys, root %x", got.Keys, got.Root, w.Keys, w.Root)
	}
}
