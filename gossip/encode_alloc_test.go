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
	for name, encode := range map[string]func() []byte{
		"delta": deltaMsg{Sent: sentDirect, From: long, Origin: long, Key: long, OriginTime: 1 << 62,
			Parts: [][]byte{bytes.Repeat([]byte{1}, 70000), {2}, bytes.Repeat([]byte{3}, 300)}}.encode,
		"repair": (&repairMsg{From: long, Entries: []repairEntry{
			{Key: long, Data: bytes.Repeat([]byte{1}, 70000)}, {Key: "k", Data: []byte{2}}}}).encode,
		"digest": (&digestMsg{From: long, Keys: 1 << 62, Buckets: buckets}).encode,
	} {
		if n := testing.AllocsPerRun(20, func() { encode() }); n != 1 {
			t.Errorf("%s: %v allocations per encoding, want 1", name, n)
		}
	}
}
