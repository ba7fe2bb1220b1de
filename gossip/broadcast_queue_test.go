package gossip

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// queueKeys queues a broadcast of each of the keys k<from> to k<to-1>.
func queueKeys(n *Node, from, to int) {
	n.bmu.Lock()
	defer n.bmu.Unlock()
	for i := from; i < to; i++ {
		m := deltaMsg{From: n.cfg.Name, Origin: "o", Key: fmt.Sprintf("k%d", i), Parts: [][]byte{[]byte("d")}}
		n.queueLocked(m, m.encode())
	}
}

// TestQueuePrunedToBound pins the transmit queue's bound of 4096
// broadcasts in a cluster of at most 2048 members: up to it nothing is
// dropped, past it the oldest broadcasts are pruned and counted as dropped.
func TestQueuePrunedToBound(t *testing.T) {
	t.Parallel()
	n := newLoneNode(t, newStateDelegate())
	const bound = 4096
	queueKeys(n, 0, bound)
	if q, dropped := n.queue.NumQueued(), n.Stats().DroppedBroadcasts; q != bound || dropped != 0 {
		t.Fatalf("%d broadcasts queued: %d in the queue, %d dropped; want %d, 0", bound, q, dropped, bound)
	}
	queueKeys(n, bound, bound+3)
	if q, dropped := n.queue.NumQueued(), n.Stats().DroppedBroadcasts; q != bound || dropped != 3 {
		t.Fatalf("%d broadcasts queued: %d in the queue, %d dropped; want %d, 3", bound+3, q, dropped, bound)
	}
}

// TestQueuedSweep pins when the per-key map of queued broadcasts forgets
// retired ones: only once it holds more than twice the queue's bound (8192
// entries in a cluster of at most 2048 members), so that the sweep's cost
// is spread over thousands of broadcasts, and then always, so the map stays
// bounded.
func TestQueuedSweep(t *testing.T) {
	t.Parallel()
	n := newLoneNode(t, newStateDelegate())
	const sweepAbove = 2 * 4096
	n.bmu.Lock()
	defer n.bmu.Unlock()
	for i := range sweepAbove - 1 {
		b := &deltaBroadcast{key: fmt.Sprintf("retired%d", i)}
		b.done.Store(true)
		n.queued[b.key] = b
	}
	queue := func(key string) {
		m := deltaMsg{From: n.cfg.Name, Origin: "o", Key: key, Parts: [][]byte{[]byte("d")}}
		n.queueLocked(m, m.encode())
	}
	queue("a") // sweepAbove entries: kept
	if got := len(n.queued); got != sweepAbove {
		t.Fatalf("map of %d entries after a broadcast, want %d: swept too early", got, sweepAbove)
	}
	queue("b") // one more: the retired ones go
	if got := slices.Sorted(maps.Keys(n.queued)); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("map of %d entries after passing %d, want the 2 live ones", len(got), sweepAbove)
	}
}

// TestQueueBound: the transmit queue holds 4096 broadcasts up to 2048
// members, and twice the members above.
func TestQueueBound(t *testing.T) {
	t.Parallel()
	for members, want := range map[int]int{0: 4096, 1: 4096, 2048: 4096, 2049: 4098, 5000: 10000} {
		if got := queueBound(members); got != want {
			t.Errorf("queueBound(%d) = %d, want %d", members, got, want)
		}
	}
}
