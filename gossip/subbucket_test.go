package gossip

import (
	"fmt"
	"slices"
	"testing"
)

// TestSubBuckets checks the digest's sub-bucket hashes: each is the XOR of
// its keys' hashes, they XOR to their bucket's hash, a changed or removed
// key changes its own sub-bucket's hash only, and keysIn returns the keys
// of the sub-buckets named and no others.
func TestSubBuckets(t *testing.T) {
	t.Parallel()
	d := newDigest()
	for i := range 20_000 {
		d.set(genKey(i), []byte("v"), true)
	}
	const b = 17
	before := *d.subHashes(b)
	var x uint64
	for _, h := range before {
		x ^= h
	}
	if want := d.snapshot().Buckets[b]; x != want {
		t.Fatalf("sub-bucket hashes of bucket %d XOR to %x, want the bucket's %x", b, x, want)
	}
	var key string
	for i := 0; key == ""; i++ {
		if k := genKey(i); bucketOf(k) == b {
			key = k
		}
	}
	for _, state := range [][]byte{[]byte("w"), nil} {
		d.set(key, state, state != nil)
		after := d.subHashes(b)
		for s := range subBuckets {
			if changed := after[s] != before[s]; changed != (uint8(s) == subBucketOf(key)) {
				t.Fatalf("sub-bucket %d changed=%v after %s (in sub-bucket %d) was set to %q", s, changed, key, subBucketOf(key), state)
			}
		}
		var fromKeys [subBuckets]uint64
		for k, h := range d.keys[b] {
			fromKeys[subBucketOf(k)] ^= h
		}
		if fromKeys != *after {
			t.Fatalf("sub-bucket hashes of bucket %d differ from the XOR of their keys' hashes", b)
		}
	}
	d.set(key, []byte("w"), true)
	after := d.subHashes(b)
	ob, ok := d.offerBucket(b)
	if !ok || ob.Subs.len() != len(ob.Hashes) || ob.Subs.len() == 0 || ob.Bucket != b {
		t.Fatalf("offerBucket(%d) = %+v, %v", b, ob, ok)
	}
	if h := ob.hashes(); *h != *after {
		t.Fatal("offered hashes differ from the sub-bucket hashes")
	}
	want := subSet{Bucket: b}
	want.Subs.add(subBucketOf(key))
	want.Subs.add(subBucketOf(key) + 1)
	var wantKeys []string
	for i := range 20_000 {
		if k := genKey(i); bucketOf(k) == b && want.Subs.has(subBucketOf(k)) {
			wantKeys = append(wantKeys, k)
		}
	}
	got := d.keysIn([]subSet{want})
	slices.Sort(got)
	if !slices.Equal(got, wantKeys) || !slices.Contains(got, key) {
		t.Fatalf("keysIn(%v) = %v, want %v", want, got, wantKeys)
	}
	if _, ok := newDigest().offerBucket(b); ok {
		t.Fatal("an empty bucket is offered")
	}
}

// TestSubBucketSpread: a key's sub-bucket does not follow from its bucket,
// or repair would send whole buckets again.
func TestSubBucketSpread(t *testing.T) {
	t.Parallel()
	const keys = 4 * digestBuckets * subBuckets
	seen := make(map[[2]int]bool)
	for i := range keys {
		k := fmt.Sprint("cart-", i)
		seen[[2]int{bucketOf(k), int(subBucketOf(k))}] = true
	}
	// 4 keys per (bucket, sub-bucket) on average: about 98% of the pairs
	// get one.
	if len(seen) < digestBuckets*subBuckets*95/100 {
		t.Fatalf("%d keys fill %d of %d (bucket, sub-bucket) pairs, want about 98%%", keys, len(seen), digestBuckets*subBuckets)
	}
}
