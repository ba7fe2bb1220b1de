package gossip

import (
	"strings"
	"testing"
)

// queuedMsg decodes the broadcast currently queued for key.
func queuedMsg(t *testing.T, n *Node, key string) deltaMsg {
	t.Helper()
	n.bmu.Lock()
	b := n.queued[key]
	n.bmu.Unlock()
	if b == nil || b.done.Load() {
		t.Fatalf("nothing queued for %q", key)
	}
	m, err := decodeDelta(b.msg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestQueuedBroadcastHoldsJoin checks the queued-delta join strategy: the
// queued message of a key always carries all still-queued deltas.
func TestQueuedBroadcastHoldsJoin(t *testing.T) {
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.DirectPushMaxPeers = 0 })
	n := c.start(0, newSetDelegate(), 0)
	d := c.dels[0]
	enqueue := func(key, elem string, at int64) {
		d.add(key, elem)
		n.enqueueBroadcast(deltaMsg{Origin: "r", Key: key, OriginTime: at, Parts: [][]byte{[]byte(elem)}})
	}

	// Small deltas: carried together, oldest origin time kept.
	enqueue("k", "a", 20)
	enqueue("k", "b", 10)
	enqueue("k", "c", 30)
	m := queuedMsg(t, n, "k")
	if got := len(m.Parts); got != 3 || m.OriginTime != 10 {
		t.Fatalf("got %d parts at %d, want 3 at 10", got, m.OriginTime)
	}
	if got := n.queue.NumQueued(); got != 1 {
		t.Fatalf("got %d queued broadcasts, want 1", got)
	}

	// Invariant: the queued parts join to the full state (nothing was sent,
	// as the node has no peers). Past the part limit or packet budget the
	// full state replaces the parts.
	for i := range 70 {
		enqueue("k", "e"+strings.Repeat("x", 5)+string(rune('A'+i%26))+string(rune('a'+i/26)), 40)
		m = queuedMsg(t, n, "k")
		u := newSetDelegate()
		for _, p := range m.Parts {
			_, _ = u.Merge("k", p, MergeInfo{})
		}
		got, _ := u.State("k")
		want, _ := d.State("k")
		if string(got) != string(want) {
			t.Fatalf("after %d: queued parts join to %q, want %q", i, got, want)
		}
	}
	if got := len(m.Parts); got >= 73 {
		t.Fatalf("got %d parts, want the full state to have replaced them", got)
	}

	// When even the full state does not fit, it goes by reliable send.
	for i := range 200 {
		enqueue("k", strings.Repeat("y", 10)+string(rune('A'+i%26))+string(rune('A'+i/26)), 50)
	}
	// The worker may already have taken the job off the queue: count it.
	if got := n.Stats().ReliableQueued; got == 0 {
		t.Fatal("got no reliable send for an oversize join")
	}
	if st := n.Stats(); st.Combined == 0 {
		t.Fatal("Combined not counted")
	}
}
