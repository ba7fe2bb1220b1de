package gossip

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
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

// TestRepairChunksRespectEntryCap repairs more tiny objects than one
// repair message may carry, with chunks large enough to hold them all: the
// sender must split by count, or the receiver refuses the chunk.
func TestRepairChunksRespectEntryCap(t *testing.T) {
	c := newTestCluster(t, func(_ int, cfg *Config) {
		cfg.MaxRepairChunk = 8 << 20
		cfg.RepairBytesPerSecond = 64 << 20
		cfg.DisableDeltas = true
	})
	full := newSetDelegate()
	for i := range maxRepairEntries + 500 {
		full.add(fmt.Sprint("k", i), "x")
	}
	c.start(0, full, 0)
	c.start(1, newSetDelegate(), 0)
	c.join(c.nodes[1], 0)
	c.waitConverged(30*time.Second, 0, 1)
	if got := c.nodes[1].Stats().DecodeErrors + c.nodes[0].Stats().DecodeErrors; got != 0 {
		t.Fatalf("got %d decode errors, want 0", got)
	}
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
