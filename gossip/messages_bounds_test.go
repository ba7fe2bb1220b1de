package gossip

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestHeaderBounds: a message of exactly maxMessageSize bytes, and one of
// its type and version alone, pass the header; one byte more, or less, do
// not.
func TestHeaderBounds(t *testing.T) {
	t.Parallel()
	msg := func(n int) []byte {
		b := make([]byte, n)
		b[0], b[1] = byte(msgDelta), wireVersion
		return b
	}
	if r, err := header(msg(2), msgDelta); err != nil || len(r.b) != 0 {
		t.Fatalf("type and version alone: got %v, want a reader over nothing", err)
	}
	if _, err := header(msg(2)[:1], msgDelta); !errors.Is(err, errTruncated) {
		t.Fatalf("type alone: got %v, want %v", err, errTruncated)
	}
	if r, err := header(msg(maxMessageSize), msgDelta); err != nil || len(r.b) != maxMessageSize-2 {
		t.Fatalf("a message of exactly %d bytes: got %v, want it read", maxMessageSize, err)
	}
	if _, err := header(msg(maxMessageSize+1), msgDelta); !errors.Is(err, errTooLarge) {
		t.Fatalf("one byte over: got %v, want %v", err, errTooLarge)
	}
}

// TestDecodeRepairCountCheckedBeforeAllocating: a repair message that
// claims the most entries allowed but carries fewer bytes than they need
// is refused before the entries are allocated (each takes at least three
// bytes), even when it carries more bytes than a third of the count.
func TestDecodeRepairCountCheckedBeforeAllocating(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	buf := []byte{byte(msgRepair), wireVersion, 1, 'a'}
	buf = appendUvarint(buf, maxRepairEntries)
	buf = append(buf, make([]byte, maxRepairEntries/3+1)...) // enough for a third of them
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeRepair(buf)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errTruncated) {
		t.Fatalf("got %v, want %v", err, errTruncated)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Fatalf("refusing it allocated %d bytes, want < 64 KiB", got)
	}
}

// TestOriginTime: a delta's origin time of 0 on the wire is "unknown" (the
// zero time), any other is nanoseconds since the epoch.
func TestOriginTime(t *testing.T) {
	t.Parallel()
	if got := originTime(0); !got.IsZero() {
		t.Errorf("originTime(0) = %v, want the zero time", got)
	}
	const ns = 1_700_000_000_123_456_789
	if got := originTime(ns); !got.Equal(time.Unix(0, ns)) {
		t.Errorf("originTime(%d) = %v, want %v", ns, got, time.Unix(0, ns))
	}
}
