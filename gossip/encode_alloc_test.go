package gossip

import (
	"bytes"
	"strings"
	"testing"
)

// TestEncodeAllocatesOnce: every message is encoded into one buffer sized
// up front, so that sending never grows a buffer on the way. Not parallel:
// it counts the process's allocations.
func TestEncodeAllocatesOnce(t *testing.T) {
	long := strings.Repeat("k", 300) // lengths of several varint bytes
	var buckets [digestBuckets]uint64
	for i := range buckets {
		buckets[i] = uint64(i) + 1 // every bucket present
	}
	var offerBuckets []offerBucket
	var wantBuckets []subSet
	for b := range 40 {
		var subs bucketSet
		hashes := make([]uint64, 0, 256)
		for sb := range 256 {
			subs.add(uint8(sb))
			hashes = append(hashes, uint64(sb)+1)
		}
		offerBuckets = append(offerBuckets, offerBucket{Bucket: uint8(b), Subs: subs, Hashes: hashes})
		wantBuckets = append(wantBuckets, subSet{Bucket: uint8(b), Subs: subs})
	}
	for name, encode := range map[string]func() []byte{
		"delta": deltaMsg{Sent: sentDirect, From: long, Origin: long, Key: long, OriginTime: 1 << 62,
			Parts: [][]byte{bytes.Repeat([]byte{1}, 70000), {2}, bytes.Repeat([]byte{3}, 300)}}.encode,
		"repair": (&repairMsg{From: long, Entries: []repairEntry{
			{Key: long, Data: bytes.Repeat([]byte{1}, 70000)}, {Key: "k", Data: []byte{2}}}}).encode,
		"digest": (&digestMsg{From: long, Keys: 1 << 62, Buckets: buckets}).encode,
		"offer":  offerMsg{From: long, Nonce: 1 << 62, Buckets: offerBuckets}.encode,
		"want":   wantMsg{From: long, Nonce: 1 << 62, Buckets: wantBuckets}.encode,
	} {
		if n := testing.AllocsPerRun(20, func() { encode() }); n != 1 {
			t.Errorf("%s: %v allocations per encoding, want 1", name, n)
		}
	}
}

// TestSubBucketCount: the sub-buckets of several buckets add up.
func TestSubBucketCount(t *testing.T) {
	t.Parallel()
	var a, b bucketSet
	for _, sb := range []uint8{0, 9, 255} {
		a.add(sb)
	}
	b.add(3)
	b.add(4)
	if n := subBucketCount([]subSet{{Bucket: 1, Subs: a}, {Bucket: 2, Subs: b}}); n != 5 {
		t.Fatalf("subBucketCount = %d, want 5", n)
	}
}
