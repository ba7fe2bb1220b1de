package gossip

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
)

func TestDecodeRepairEntryCap(t *testing.T) {
	frame := func(n int) []byte {
		b := []byte{byte(msgRepair), wireVersion, 1, 'm'}
		b = appendUvarint(b, uint64(n))
		for range n {
			b = append(b, 1, 'k', 0)
		}
		return b
	}
	if m, err := decodeRepair(frame(maxRepairEntries)); err != nil || len(m.Entries) != maxRepairEntries {
		t.Fatalf("decode %d entries: got %d, %v; want them all", maxRepairEntries, len(m.Entries), err)
	}
	big := frame(maxRepairEntries + 1)
	if _, err := decodeRepair(big); !errors.Is(err, errTooLarge) {
		t.Fatalf("decode %d entries: got %v, want %v", maxRepairEntries+1, err, errTooLarge)
	}
	// Rejected before anything the size of the claim is allocated.
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 10 {
		_, _ = decodeRepair(big)
	}
	runtime.ReadMemStats(&m1)
	if b := (m1.TotalAlloc - m0.TotalAlloc) / 10; b > 4<<10 {
		t.Fatalf("got %d bytes allocated rejecting an oversized repair, want < 4 KiB", b)
	}
}

// TestRepairChunksRespectEntryCap cuts more tiny objects than one repair
// message may carry into chunks large enough to hold them all: the chunker
// must split by count, or the receiver refuses the chunk.
func TestRepairChunksRespectEntryCap(t *testing.T) {
	keys := make([]string, maxRepairEntries+500)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	state := func(string) ([]byte, bool) { return []byte{'x'}, true }
	got := 0
	chunks := 0
	repairChunker{from: "a", maxBytes: 8 << 20}.run(keys, state, func(m *repairMsg) bool {
		chunks++
		d, err := decodeRepair(m.encode())
		if err != nil {
			t.Fatalf("chunk %d of %d entries: %v", chunks, len(m.Entries), err)
		}
		got += len(d.Entries)
		return true
	})
	if got != len(keys) || chunks != 2 {
		t.Fatalf("got %d entries in %d chunks, want %d in 2", got, chunks, len(keys))
	}
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
