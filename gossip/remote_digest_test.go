package gossip

import (
	"fmt"
	"testing"
)

// digestFrom is a digest message from peer holding buckets.
func digestFrom(peer string, keys uint64, buckets [digestBuckets]uint64) []byte {
	m := digestMsg{From: peer, Keys: keys, Buckets: buckets}
	return m.encode()
}

// startWithPeer starts a lone node that takes "peer" for an alive member.
func startWithPeer(t *testing.T) *Node {
	t.Helper()
	n := newTestCluster(t, nil).start(0, newSetDelegate(), 0)
	n.pmu.Lock()
	n.known["peer"] = &knownPeer{Member: Member{Name: "peer", Addr: "127.0.0.1:1"}}
	n.pmu.Unlock()
	return n
}

// TestRemoteDigestComparedWithTheOneSent: a peer's digest is compared
// with the digest this node last sent (both ends of an exchange compare the
// same two digests), not with its digest of the moment; before it has sent
// any, with its digest of the moment. The peer's key count is kept as sent.
func TestRemoteDigestComparedWithTheOneSent(t *testing.T) {
	t.Parallel()
	n := startWithPeer(t)

	// Nothing sent yet: compared with the node's digest now (empty).
	n.onRemoteDigest(digestFrom("peer", 5, n.digest.snapshot().Buckets))
	pd := n.PeerDigests()["peer"]
	if !pd.InSync || pd.Keys != 5 {
		t.Fatalf("digest equal to ours now: got %+v, want in sync with 5 keys", pd)
	}

	// Sent a digest that differs from the node's digest now: a peer's
	// digest equal to the one sent is in sync.
	var sent snapshot
	sent.Buckets[3] = 0xdead
	n.lastSent.Store(&sent)
	n.onRemoteDigest(digestFrom("peer", 7, sent.Buckets))
	pd = n.PeerDigests()["peer"]
	if !pd.InSync || pd.Keys != 7 {
		t.Fatalf("digest equal to the one sent: got %+v, want in sync with 7 keys", pd)
	}
	n.onRemoteDigest(digestFrom("peer", 7, n.digest.snapshot().Buckets))
	if pd = n.PeerDigests()["peer"]; pd.InSync || pd.Buckets != 1 {
		t.Fatalf("digest equal to ours now, not to the one sent: got %+v, want one bucket apart", pd)
	}
}

// TestPeerDigestTableBound: with maxPeerDigests peers in the table, the
// digest of one more member is dropped; one fewer and it is kept.
func TestPeerDigestTableBound(t *testing.T) {
	t.Parallel()
	n := startWithPeer(t)
	fill := func(k int) {
		n.pmu.Lock()
		defer n.pmu.Unlock()
		clear(n.peerDigests)
		for i := range k {
			n.peerDigests[fmt.Sprint("other-", i)] = PeerDigest{}
		}
	}
	buckets := n.digest.snapshot().Buckets

	fill(maxPeerDigests - 1)
	n.onRemoteDigest(digestFrom("peer", 0, buckets))
	if _, ok := n.PeerDigests()["peer"]; !ok || n.Stats().DigestsRejected != 0 {
		t.Fatalf("one place left in the table: the digest was dropped")
	}

	fill(maxPeerDigests)
	n.onRemoteDigest(digestFrom("peer", 0, buckets))
	if _, ok := n.PeerDigests()["peer"]; ok || n.Stats().DigestsRejected != 1 {
		t.Fatalf("table full: the digest of a member not in it was kept")
	}
}
