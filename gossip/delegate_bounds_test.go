package gossip

import (
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// TestInboundQueueTakesAMessageThatFillsItExactly: the inbound queue's byte
// cap is inclusive: a message that brings the queued bytes exactly to
// InboundQueueBytes is queued, and one byte more is dropped and counted.
func TestInboundQueueTakesAMessageThatFillsItExactly(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, nil)
	n := c.start(0, newSetDelegate(), 0)
	d := &mlDelegate{n: n}
	msg := deltaMsg{From: "peer", Origin: "peer", Key: "k", Parts: [][]byte{[]byte("v")}}.encode()
	limit := int64(n.cfg.InboundQueueBytes)

	n.inBytes.Store(limit - int64(len(msg)))
	d.NotifyMsg(msg)
	if got := n.Stats().DroppedInbound; got != 0 {
		t.Fatalf("a message filling the queue to exactly its cap was dropped (%d dropped)", got)
	}
	n.inBytes.Store(limit - int64(len(msg)) + 1)
	d.NotifyMsg(msg)
	if got := n.Stats().DroppedInbound; got != 1 {
		t.Fatalf("a message one byte past the queue's cap: %d dropped, want 1", got)
	}
}

// TestMalformedUnknownTypesShareOneLogKind: a message of type 0 (invalid)
// and one of a type past the last known are both logged as kind "other",
// so that a flood of made-up types cannot open a log line per type: the
// second, within the same second, is held back.
func TestMalformedUnknownTypesShareOneLogKind(t *testing.T) {
	t.Parallel()
	h := newRecordingHandler(slog.LevelWarn)
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.Logger = slog.New(h) })
	n := c.start(0, newSetDelegate(), 0)
	d := &mlDelegate{n: n}
	start := time.Now()
	d.NotifyMsg([]byte{byte(msgInvalid), wireVersion})
	d.NotifyMsg([]byte{byte(msgWant) + 1, wireVersion})
	d.NotifyMsg([]byte{250, wireVersion})
	if time.Since(start) >= logInterval {
		t.Skip("the machine took longer than the log interval between two calls")
	}
	if got := n.Stats().DecodeErrors; got != 3 {
		t.Fatalf("got %d decode errors, want 3", got)
	}
	if lines := h.records(nil); len(lines) != 1 {
		t.Fatalf("got %d log lines for three messages of unknown types, want 1 (one kind, other): %v", len(lines), lines)
	}
}

// TestInboundQueueBytesReleased: a message's bytes count against the
// inbound queue's cap only while it waits; once a worker takes it they
// are released, so a node that has received more than the cap in all
// keeps taking messages.
func TestInboundQueueBytesReleased(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, nil)
	n := c.start(0, newSetDelegate(), 0)
	d := &mlDelegate{n: n}
	msg := deltaMsg{From: "peer", Origin: "peer", Key: "k", Parts: [][]byte{[]byte("v")}}.encode()
	d.NotifyMsg(msg)
	waitFor(t, 10*time.Second, func() (bool, string) {
		got := n.inBytes.Load()
		return got == 0, fmt.Sprintf("%d bytes still counted as queued after the message was taken", got)
	})
	if got := n.Stats().DroppedInbound; got != 0 {
		t.Fatalf("%d messages dropped, want 0", got)
	}
}
