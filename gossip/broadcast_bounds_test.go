package gossip

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// stateDelegate is a test Delegate whose State returns a fixed state per
// key and counts the calls; Merge and Hashes do nothing.
type stateDelegate struct {
	mu     sync.Mutex // guards states and calls
	states map[string][]byte
	calls  map[string]int
}

func newStateDelegate() *stateDelegate {
	return &stateDelegate{states: make(map[string][]byte), calls: make(map[string]int)}
}

func (d *stateDelegate) set(key string, state []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.states[key] = state
}

func (d *stateDelegate) stateCalls(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[key]
}

func (d *stateDelegate) Merge(string, []byte, MergeInfo) (bool, error) { return false, nil }
func (d *stateDelegate) Hashes(func(string, uint64) bool)              {}

func (d *stateDelegate) State(key string) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[key]++
	s, ok := d.states[key]
	return s, ok
}

// fill returns m with its last part replaced by one that makes the encoded
// message exactly size bytes long.
func fill(t *testing.T, m deltaMsg, size int) deltaMsg {
	t.Helper()
	m.Parts = slices.Clone(m.Parts)
	for l := range size {
		m.Parts[len(m.Parts)-1] = []byte(strings.Repeat("x", l))
		switch got := len(m.encode()); {
		case got == size:
			return m
		case got > size:
			t.Fatalf("no part makes a %d-byte message", size)
		}
	}
	t.Fatalf("no part makes a %d-byte message", size)
	return m
}

// isQueued reports whether a broadcast of key was queued (it may have been
// sent and retired since).
func isQueued(n *Node, key string) bool {
	n.bmu.Lock()
	defer n.bmu.Unlock()
	return n.queued[key] != nil
}

// TestSendLocalAlone pins that a node alone in the cluster neither queues
// nor sends a fresh local delta: nobody would receive it.
func TestSendLocalAlone(t *testing.T) {
	t.Parallel()
	n := newLoneNode(t, newStateDelegate())
	if got := n.ml.NumMembers(); got != 1 {
		t.Fatalf("lone node sees %d members", got)
	}
	n.sendLocal(localDelta{key: "k", data: []byte("d"), originTime: 1})
	if q, st := n.queue.NumQueued(), n.Stats(); q != 0 || isQueued(n, "k") || st.ReliableQueued != 0 {
		t.Fatalf("alone: %d broadcasts queued (k queued: %v), %d reliable sends; want none", q, isQueued(n, "k"), st.ReliableQueued)
	}
}

// TestSendLocalPacketLimit pins the size at which a fresh local delta leaves
// the packet path: one exactly maxBroadcast bytes long is still broadcast,
// one byte more goes by SendReliable.
func TestSendLocalPacketLimit(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, nil)
	c.grow(2)
	c.waitMembers(2, 30*time.Second)
	n := c.nodes[0]
	checkPacketLimit(t, n, n.cfg.Name, func(m deltaMsg) {
		n.sendLocal(localDelta{key: m.Key, data: m.Parts[0], originTime: 1})
	})
}

// TestEnqueuePacketLimit pins the size at which a delta with no broadcast
// of its key queued leaves the transmit queue: exactly maxBroadcast bytes
// is queued, one byte more goes by SendReliable.
func TestEnqueuePacketLimit(t *testing.T) {
	t.Parallel()
	n := newLoneNode(t, newStateDelegate())
	checkPacketLimit(t, n, "o", n.enqueueBroadcast)
}

// checkPacketLimit sends through send deltas of origin whose messages take
// maxBroadcast-1, maxBroadcast and maxBroadcast+1 bytes: the first two are
// queued for broadcast, the last goes by SendReliable.
func checkPacketLimit(t *testing.T, n *Node, origin string, send func(deltaMsg)) {
	t.Helper()
	limit := n.maxBroadcast()
	for _, size := range []int{limit - 1, limit, limit + 1} {
		wantReliable := size > limit
		key := fmt.Sprintf("k%d", size)
		m := fill(t, deltaMsg{From: n.cfg.Name, Origin: origin, Key: key, OriginTime: 1, Parts: [][]byte{nil}}, size)
		before := n.Stats().ReliableQueued
		send(m)
		reliable := n.Stats().ReliableQueued - before
		if reliable != 0 != wantReliable || isQueued(n, key) == wantReliable {
			t.Errorf("%d-byte delta (limit %d): %d reliable sends, queued %v; want reliable: %v", size, limit, reliable, isQueued(n, key), wantReliable)
		}
	}
}

// TestCombinedOrigin pins which origin a joined broadcast names: the one
// of the older delta, and on a tie (or when the new delta has no time) the
// one already queued.
func TestCombinedOrigin(t *testing.T) {
	t.Parallel()
	n := newLoneNode(t, newStateDelegate())
	for i, tt := range []struct {
		oldTime, newTime int64
		wantOrigin       string
		wantTime         int64
	}{
		{10, 20, "old", 10},
		{20, 10, "new", 10},
		{10, 10, "old", 10},
		{10, 0, "old", 10},
		{0, 10, "new", 10},
	} {
		key := fmt.Sprintf("k%d", i)
		n.enqueueBroadcast(deltaMsg{Origin: "old", Key: key, OriginTime: tt.oldTime, Parts: [][]byte{[]byte("a")}})
		n.enqueueBroadcast(deltaMsg{Origin: "new", Key: key, OriginTime: tt.newTime, Parts: [][]byte{[]byte("b")}})
		m := queuedMsg(t, n, key)
		if len(m.Parts) != 2 || m.Origin != tt.wantOrigin || m.OriginTime != tt.wantTime {
			t.Errorf("queued at %d, then at %d: %d parts from %q at %d; want 2 from %q at %d",
				tt.oldTime, tt.newTime, len(m.Parts), m.Origin, m.OriginTime, tt.wantOrigin, tt.wantTime)
		}
	}
}

// TestCombinedPacketLimit pins the size up to which a queued broadcast and
// a new delta of the key are carried together: a join of exactly
// maxBroadcast bytes is, without reading the key's state; one byte more is
// replaced by the state.
func TestCombinedPacketLimit(t *testing.T) {
	t.Parallel()
	d := newStateDelegate()
	n := newLoneNode(t, d)
	limit := n.maxBroadcast()
	for _, tt := range []struct {
		size      int
		wantParts int // 2: the parts together; 1: the state alone
	}{
		{limit - 1, 2},
		{limit, 2},
		{limit + 1, 1},
	} {
		key := fmt.Sprintf("k%d", tt.size)
		d.set(key, []byte("state"))
		first := []byte("first")
		join := fill(t, deltaMsg{From: n.cfg.Name, Origin: "o", Key: key, OriginTime: 1, Parts: [][]byte{first, nil}}, tt.size)
		n.enqueueBroadcast(deltaMsg{Origin: "o", Key: key, OriginTime: 1, Parts: [][]byte{first}})
		n.enqueueBroadcast(deltaMsg{Origin: "o", Key: key, OriginTime: 1, Parts: [][]byte{join.Parts[1]}})
		m := queuedMsg(t, n, key)
		if len(m.Parts) != tt.wantParts || (d.stateCalls(key) == 0) != (tt.wantParts == 2) {
			t.Errorf("%d-byte join (limit %d): %d parts queued, %d State calls; want %d parts", tt.size, limit, len(m.Parts), d.stateCalls(key), tt.wantParts)
		}
	}
}

// TestStatePacketLimit pins the size up to which a key's state stands for
// a queued broadcast and a new delta that do not fit together: a state
// message of exactly maxBroadcast bytes is queued; one byte more is not,
// and the new delta alone replaces the queued broadcast, counted as
// dropped.
func TestStatePacketLimit(t *testing.T) {
	t.Parallel()
	d := newStateDelegate()
	n := newLoneNode(t, d)
	limit := n.maxBroadcast()
	for _, tt := range []struct {
		size      int
		wantState bool
	}{
		{limit - 1, true},
		{limit, true},
		{limit + 1, false},
	} {
		key := fmt.Sprintf("k%d", tt.size)
		sm := fill(t, deltaMsg{From: n.cfg.Name, Origin: "o", Key: key, OriginTime: 1, Parts: [][]byte{nil}}, tt.size)
		state := sm.Parts[0]
		d.set(key, state)
		half := []byte(strings.Repeat("h", limit/2)) // two do not fit one message
		newer := []byte(strings.Repeat("n", limit/2))
		n.enqueueBroadcast(deltaMsg{Origin: "o", Key: key, OriginTime: 1, Parts: [][]byte{half}})
		before := n.Stats().DroppedBroadcasts
		n.enqueueBroadcast(deltaMsg{Origin: "o", Key: key, OriginTime: 1, Parts: [][]byte{newer}})
		dropped := n.Stats().DroppedBroadcasts - before
		m := queuedMsg(t, n, key)
		want, wantName, wantDropped := newer, "new delta", uint64(1)
		if tt.wantState {
			want, wantName, wantDropped = state, "state", 0
		}
		if len(m.Parts) != 1 || string(m.Parts[0]) != string(want) || dropped != wantDropped {
			t.Errorf("%d-byte state message (limit %d): %d parts queued, the first of %d bytes, %d dropped; want the %d-byte %s alone, %d dropped",
				tt.size, limit, len(m.Parts), len(m.Parts[0]), dropped, len(want), wantName, wantDropped)
		}
	}
}
