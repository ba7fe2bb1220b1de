package gossip

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
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

// TestOfferTimeout: an offer waits for two TCP timeouts, and at least a
// second.
func TestOfferTimeout(t *testing.T) {
	t.Parallel()
	for tcp, want := range map[time.Duration]time.Duration{3 * time.Second: 6 * time.Second, 100 * time.Millisecond: time.Second} {
		n := &Node{}
		n.cfg.Memberlist = memberlist.DefaultLANConfig()
		n.cfg.Memberlist.TCPTimeout = tcp
		if got := n.offerTimeout(); got != want {
			t.Errorf("TCPTimeout %v: offer timeout %v, want %v", tcp, got, want)
		}
	}
}

// TestOfferFromNonMemberRejected: an offer from a name that is not an
// alive member is counted and not answered; one from a member is answered.
func TestOfferFromNonMemberRejected(t *testing.T) {
	t.Parallel()
	n := startWithPeer(t)
	n.handleOffer(offerMsg{From: "stranger", Nonce: 1}, 10)
	if got := n.Stats().RepairRejected; got != 1 {
		t.Fatalf("offer from a stranger: %d rejected, want 1", got)
	}
	n.handleOffer(offerMsg{From: "peer", Nonce: 2}, 10)
	if got := n.Stats().RepairRejected; got != 1 {
		t.Fatalf("offer from a member: %d rejected, want still 1", got)
	}
}

// TestFailedOfferSendForgetsTheOffer: when an offer cannot be sent, the
// node forgets it, so the next exchange may offer again at once.
func TestFailedOfferSendForgetsTheOffer(t *testing.T) {
	t.Parallel()
	n := newTestCluster(t, nil).start(0, newSetDelegate(), 0)
	if !n.offers.put("gone", pendingOffer{nonce: 42}, time.Now(), time.Hour) {
		t.Fatal("could not record the offer")
	}
	if !n.sendControl(controlMsg{peer: "gone", msg: (&offerMsg{From: n.cfg.Name, Nonce: 42}).encode(), nonce: 42}) {
		t.Fatal("control queue full")
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		return n.Stats().SendErrors > 0, "the send to a non-member did not fail"
	})
	if n.offers.pending("gone", time.Now()) {
		t.Fatal("an offer that could not be sent is still pending")
	}
}

// TestRateLimiterBurst: an idle limiter lets a second's budget go at once
// (a small send leaves it mostly unspent), and no more: past it, sends are
// spaced at the rate.
func TestRateLimiterBurst(t *testing.T) {
	t.Parallel()
	start := time.Now()
	l := &rateLimiter{rate: 1 << 20}
	if !l.wait(1 << 10) {
		t.Fatal("wait refused")
	}
	if !l.next.Before(start) {
		t.Fatalf("after 1 KiB of a 1 MiB/s budget the limiter's next slot is %v after the start, want before it", l.next.Sub(start))
	}
	for range 17 { // 1 KiB + 17 x 64 KiB: 1/16 s past a second's budget
		if !l.wait(64 << 10) {
			t.Fatal("wait refused")
		}
	}
	if ahead := l.next.Sub(start); ahead < time.Second/16 {
		t.Fatalf("after a second's budget and 1/16 s more, the next slot is %v after the start, want at least %v", ahead, time.Second/16)
	}
}

// TestRepairChunkerEdges: entries that fill a chunk exactly share it; an
// object larger than a chunk goes alone, first, with no empty chunk before
// it; keys with no state are skipped and send nothing.
func TestRepairChunkerEdges(t *testing.T) {
	t.Parallel()
	data := make([]byte, 100)
	exact := repairHeaderSize("a") + repairEntrySize("k1", data) + repairEntrySize("k2", data)
	state := func(k string) ([]byte, bool) {
		switch k {
		case "missing":
			return nil, false
		case "huge":
			return make([]byte, 2*exact), true
		}
		return data, true
	}
	run := func(maxBytes int, keys ...string) (sizes []int) {
		repairChunker{from: "a", maxBytes: maxBytes}.run(keys, state, func(m *repairMsg) bool {
			sizes = append(sizes, len(m.Entries))
			return true
		})
		return sizes
	}
	if got := run(exact, "k1", "k2"); !slices.Equal(got, []int{2}) {
		t.Errorf("two entries filling a chunk exactly: chunks of %v entries, want [2]", got)
	}
	if got := run(exact-1, "k1", "k2"); !slices.Equal(got, []int{1, 1}) {
		t.Errorf("two entries one byte over a chunk: chunks of %v entries, want [1 1]", got)
	}
	if got := run(exact, "huge", "k1"); !slices.Equal(got, []int{1, 1}) {
		t.Errorf("an object larger than a chunk, then a small one: chunks of %v entries, want [1 1]", got)
	}
	if got := run(exact, "missing", "k1"); !slices.Equal(got, []int{1}) {
		t.Errorf("a key with no state, then one with: chunks of %v entries, want [1]", got)
	}
	if got := run(exact, "missing", "missing"); len(got) != 0 {
		t.Errorf("keys with no state: chunks of %v entries, want none", got)
	}
}

// TestFailedRepairOffersNoMore: a repair that could not be sent offers the
// peer nothing more (the buckets left over wait for the next exchange);
// one that was sent goes on to offer them.
func TestFailedRepairOffersNoMore(t *testing.T) {
	t.Parallel()
	d := newSetDelegate()
	d.add("k", "v")
	n := newTestCluster(t, nil).start(0, d, 0)
	n.pmu.Lock()
	n.known["peer"] = &knownPeer{Member: Member{Name: "peer"}} // alive, at no address: every send fails
	n.pmu.Unlock()
	waitFor(t, 10*time.Second, func() (bool, string) { return n.DigestLoaded(), "digest not loaded" })
	b := uint8(bucketOf("k"))
	var all bucketSet
	for s := range subBuckets {
		all.add(uint8(s))
	}
	n.repairCh <- repairJob{peer: "peer", parts: []subSet{{Bucket: b, Subs: all}}, rest: []uint8{b}}
	n.repairCh <- repairJob{peer: "peer"} // nothing to send: it succeeds, and marks the first done
	waitFor(t, 10*time.Second, func() (bool, string) {
		return n.Stats().RepairRounds == 2, "the two repair jobs did not run"
	})
	if s := n.Stats(); s.SendErrors == 0 || s.RepairOffers != 0 {
		t.Fatalf("a failed repair: %d send errors and %d offers, want some and none", s.SendErrors, s.RepairOffers)
	}
	n.repairCh <- repairJob{peer: "peer", rest: []uint8{b}} // sent (nothing to send), then offers b
	waitFor(t, 10*time.Second, func() (bool, string) {
		return n.Stats().RepairOffers == 1, "a repair that was sent did not offer the buckets left"
	})
}
