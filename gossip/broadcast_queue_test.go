package gossip

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
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

// packetTransport is a memberlist transport that delivers only the packets
// a test puts on in; what the node sends goes nowhere.
type packetTransport struct {
	*memberlist.MockTransport
	in chan *memberlist.Packet
}

func (t *packetTransport) PacketCh() <-chan *memberlist.Packet { return t.in }

// alivePacket encodes memberlist's alive message (message type 4, then the
// msgpack map memberlist decodes) announcing node name at 127.0.0.1:port,
// speaking the protocol versions vsn (pmin, pmax, pcur, dmin, dmax, dcur).
func alivePacket(name string, port uint16, vsn []byte) []byte {
	b := []byte{4, 0x86}    // aliveMsg; a map of 6 entries
	raw := func(s []byte) { // msgpack fixraw: under 32 bytes
		b = append(b, 0xa0|byte(len(s)))
		b = append(b, s...)
	}
	raw([]byte("Incarnation"))
	b = append(b, 1)
	raw([]byte("Node"))
	raw([]byte(name))
	raw([]byte("Addr"))
	raw([]byte{127, 0, 0, 1})
	raw([]byte("Port"))
	b = append(b, 0xcd, byte(port>>8), byte(port))
	raw([]byte("Meta"))
	raw(nil)
	raw([]byte("Vsn"))
	raw(vsn)
	return b
}

// TestQueueBoundGrowsWithCluster pins the transmit queue's bound in a
// cluster of more than 2048 members: twice the member count (serf's bound),
// not 4096. The 2048 peers are announced to a lone node by alive messages
// and never answer; probes and gossip wait an hour, so they stay members.
func TestQueueBoundGrowsWithCluster(t *testing.T) {
	t.Parallel()
	const peers = 2048
	tr := &packetTransport{MockTransport: new(memberlist.MockNetwork).NewTransport("big"), in: make(chan *memberlist.Packet)}
	cfg := testConfig(t)
	cfg.Name = "big-" + randHex(t, 3)
	cfg.Logger = slog.New(slog.DiscardHandler) // sends to the silent peers fail
	cfg.Delegate = newStateDelegate()
	cfg.DirectPushPeers = 0
	cfg.DigestDelay = time.Hour
	cfg.Memberlist.Transport = tr
	cfg.Memberlist.ProbeInterval = time.Hour
	cfg.Memberlist.GossipInterval = time.Hour
	cfg.Memberlist.PushPullInterval = time.Hour
	cfg.Memberlist.HandoffQueueDepth = 2 * peers // the alive messages arrive at once
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	self := n.ml.LocalNode()
	vsn := []byte{self.PMin, self.PMax, self.PCur, self.DMin, self.DMax, self.DCur}
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	for i := range peers {
		tr.in <- &memberlist.Packet{Buf: alivePacket(fmt.Sprintf("peer%04d", i), uint16(10000+i), vsn), From: from, Timestamp: time.Now()}
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		got := n.numNodes()
		return got == peers+1, fmt.Sprintf("%d members, want %d", got, peers+1)
	})

	bound := 2 * (peers + 1)
	queueKeys(n, 0, bound)
	if q, dropped := n.queue.NumQueued(), n.Stats().DroppedBroadcasts; q != bound || dropped != 0 {
		t.Fatalf("%d broadcasts queued with %d members: %d in the queue, %d dropped; want %d, 0", bound, peers+1, q, dropped, bound)
	}
	queueKeys(n, bound, bound+1)
	if q, dropped := n.queue.NumQueued(), n.Stats().DroppedBroadcasts; q != bound || dropped != 1 {
		t.Fatalf("%d broadcasts queued with %d members: %d in the queue, %d dropped; want %d, 1", bound+1, peers+1, q, dropped, bound)
	}
}
