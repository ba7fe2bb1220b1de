package gossip

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemberlistWarningsCountAndQuietWhileClosing: memberlist's [WARN]
// lines count as transport errors like its [ERR] lines, and a warning
// about a closed socket is Debug while the node leaves, as while it shuts
// down.
func TestMemberlistWarningsCountAndQuietWhileClosing(t *testing.T) {
	t.Parallel()
	h := newRecordingHandler(slog.LevelDebug)
	n := &Node{log: slog.New(h)}
	w := n.memberlistLogger().Writer()
	fmt.Fprintln(w, "[WARN] memberlist: Was able to connect to n1 over TCP but UDP probes failed")
	if got := n.stats.transportErrors.Load(); got != 1 {
		t.Fatalf("a [WARN] line counted %d transport errors, want 1", got)
	}
	n.leaving.Store(true) // leaving, not yet shut down
	fmt.Fprintln(w, "[WARN] memberlist: Failed to send ping: write udp 127.0.0.1:1->127.0.0.1:2: use of closed network connection")
	recs := h.records(nil)
	if len(recs) != 2 || recs[0].level != slog.LevelWarn || recs[1].level != slog.LevelDebug {
		t.Fatalf("got %v, want a Warn line, then the closed socket's line at Debug", recs)
	}
	if s, has := recs[0].attrs["suppressed"]; has {
		t.Errorf("the first warning says %s were held back, want no count", s)
	}
}

// TestWarnLimitedSaysHowManyWereHeldBack: the first line of a kind has no
// count of lines held back; the next one that passes says how many were.
func TestWarnLimitedSaysHowManyWereHeldBack(t *testing.T) {
	t.Parallel()
	h := newRecordingHandler(slog.LevelWarn)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	n := &Node{log: slog.New(h), warnLimit: newLogLimiter(func() time.Time { return time.Unix(0, now.Load()) })}
	for range 3 {
		n.warnLimited("kind", "bad input")
	}
	now.Add(int64(2 * logInterval))
	n.warnLimited("kind", "bad input")
	recs := h.records(nil)
	if len(recs) != 2 {
		t.Fatalf("got %d lines, want 2: %v", len(recs), recs)
	}
	if _, has := recs[0].attrs["suppressed"]; has {
		t.Errorf("the first line says %s were held back, want no count", recs[0].attrs["suppressed"])
	}
	if got := recs[1].attrs["suppressed"]; got != "2" {
		t.Errorf("the line after two held back says suppressed=%q, want 2", got)
	}
}
