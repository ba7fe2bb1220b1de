package gossip

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDecodeRepairEntryCap(t *testing.T) {
	// Not parallel: it measures the process's allocations.
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

// TestRepairChunksRespectEntryCap cuts more tiny objects than one repair
// message may carry into chunks large enough to hold them all: the chunker
// must split by count, or the receiver refuses the chunk.
func TestRepairChunksRespectEntryCap(t *testing.T) {
	t.Parallel()
	keys := make([]string, maxRepairEntries+500)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	state := func(string) ([]byte, bool) { return []byte{'x'}, true }
	got := 0
	chunks := 0
	repairChunker{from: "a", maxBytes: 8 << 20}.run(keys, state, func(m *repairMsg) bool {
		chunks++
		d, err := decodeRepair(m.encode())
		if err != nil {
			t.Fatalf("chunk %d of %d entries: %v", chunks, len(m.Entries), err)
		}
		got += len(d.Entries)
		return true
	})
	if got != len(keys) || chunks != 2 {
		t.Fatalf("got %d entries in %d chunks, want %d in 2", got, chunks, len(keys))
	}
}

// TestRepairChunksRespectByteCap cuts objects of many sizes, under keys
// of many lengths, into chunks of at most 4 KiB: every chunk, header
// included, fits unless it is one object larger than the cap, and no
// object is lost.
func TestRepairChunksRespectByteCap(t *testing.T) {
	t.Parallel()
	const maxBytes = 4 << 10
	var keys []string
	sizes := map[string]int{}
	for i := range 400 {
		k := fmt.Sprintf("%s%d", strings.Repeat("k", i%97), i)
		keys = append(keys, k)
		sizes[k] = (i * 37) % 900
	}
	for i := range 3000 { // tiny objects: the per-entry framing is what adds up
		k := fmt.Sprint("t", i)
		keys = append(keys, k)
		sizes[k] = 1
	}
	keys = append(keys, "huge")
	sizes["huge"] = maxBytes + 100
	state := func(k string) ([]byte, bool) { return make([]byte, sizes[k]), true }
	got := 0
	repairChunker{from: "node-with-a-long-name", maxBytes: maxBytes}.run(keys, state, func(m *repairMsg) bool {
		if n := len(m.encode()); n > maxBytes && len(m.Entries) > 1 {
			t.Errorf("a chunk of %d entries takes %d bytes, above the cap of %d", len(m.Entries), n, maxBytes)
		}
		got += len(m.Entries)
		return true
	})
	if got != len(keys) {
		t.Fatalf("got %d entries, want %d", got, len(keys))
	}
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// forgedDigest is a digest under name whose every bucket differs from any
// real node's.
func forgedDigest(name string, seed uint64) []byte {
	d := digestMsg{From: name, Keys: 1 << 40}
	for i := range d.Buckets {
		d.Buckets[i] = mix(seed + uint64(i) + 1)
	}
	return d.encode()
}

// TestDigestFromNonMemberDropped sends digests under invented names: none
// is kept or leads to an offer or a repair, and each is counted.
func TestDigestFromNonMemberDropped(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, nil)
	c.grow(2)
	c.waitMembers(2, 20*time.Second)
	c.write(0, "k", "v")
	c.waitConverged(10 * time.Second)
	n := c.nodes[0]
	d := &mlDelegate{n: n}
	before := n.Stats()
	const names = 20_000
	for i := range names {
		d.MergeRemoteState(forgedDigest(fmt.Sprint("ghost-", i), uint64(i)), false)
	}
	st := n.Stats()
	if got := st.DigestsRejected - before.DigestsRejected; got != names {
		t.Errorf("got %d digests rejected, want %d", got, names)
	}
	if got := len(n.PeerDigests()); got > 1 {
		t.Errorf("got %d peer digests after %d invented senders, want at most 1 (the one peer)", got, names)
	}
	if st.RepairOffers != before.RepairOffers || st.RepairRounds != before.RepairRounds {
		t.Errorf("invented senders caused %d offers and %d repair rounds, want none",
			st.RepairOffers-before.RepairOffers, st.RepairRounds-before.RepairRounds)
	}
}

// TestForgedDigestSendsNoObjects sends a node digests under the name of a
// real member that holds the same objects, as a rogue holding the cluster
// key can: the node offers that member the buckets, the member wants none,
// and no object is sent.
func TestForgedDigestSendsNoObjects(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.DisableDeltas = true })
	c.grow(3)
	c.waitMembers(3, 20*time.Second)
	for i := range 50 {
		c.dels[0].add(fmt.Sprint("k", i), "v")
		c.nodes[0].Updated(fmt.Sprint("k", i))
	}
	c.waitConverged(20 * time.Second)
	victim := c.nodes[1]
	n := c.nodes[0]
	before, vBefore := n.Stats(), victim.Stats()
	d := &mlDelegate{n: n}
	const forged = 200
	for i := range forged {
		d.MergeRemoteState(forgedDigest(victim.cfg.Name, uint64(i)), false)
	}
	// Wait until every offer is answered, or a repair started.
	waitFor(t, 10*time.Second, func() (bool, string) {
		st := n.Stats()
		offers, wants := st.RepairOffers-before.RepairOffers, st.RepairWants-before.RepairWants
		return st.RepairRounds > before.RepairRounds || (offers > 0 && wants == offers),
			fmt.Sprintf("%d offers, %d answered", offers, wants)
	})
	st, vst := n.Stats(), victim.Stats()
	t.Logf("%d forged digests: %d offers sent, %d answered, %d skipped as one was pending", forged,
		st.RepairOffers-before.RepairOffers, st.RepairWants-before.RepairWants, st.RepairsSkipped-before.RepairsSkipped)
	if got := st.ObjectsSentRepair - before.ObjectsSentRepair; got != 0 || st.RepairRounds != before.RepairRounds {
		t.Errorf("forged digests made the node send %d objects in %d repair rounds, want none", got, st.RepairRounds-before.RepairRounds)
	}
	if got := vst.ObjectsRecvRepair - vBefore.ObjectsRecvRepair; got != 0 {
		t.Errorf("the named member received %d repair objects, want none", got)
	}
}

// TestForgedDigestRepairsOnlyWhatDiffers: when the named member does lack
// something, it gets exactly that, whatever the forged digest claimed.
func TestForgedDigestRepairsOnlyWhatDiffers(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, func(_ int, cfg *Config) {
		cfg.DisableDeltas = true
		cfg.Memberlist.PushPullInterval = time.Hour // only the forged digest starts a repair
	})
	c.grow(2)
	c.waitMembers(2, 20*time.Second)
	for i := range 50 {
		c.dels[0].add(fmt.Sprint("k", i), "v")
		c.nodes[0].Updated(fmt.Sprint("k", i))
		c.dels[1].add(fmt.Sprint("k", i), "v")
		c.nodes[1].Updated(fmt.Sprint("k", i))
	}
	c.dels[0].add("only-on-0", "v")
	c.nodes[0].Updated("only-on-0")
	n, victim := c.nodes[0], c.nodes[1]
	waitFor(t, 5*time.Second, func() (bool, string) {
		return n.digest.snapshot().Keys == 51 && victim.digest.snapshot().Keys == 50, "digests not updated"
	})
	// A forged digest differs in every bucket, so an offer covers 16 of
	// them from a random start, and the member's empty want (the 16 agree)
	// ends that exchange: the differing bucket comes up in a later one.
	// Send forged digests until it does.
	waitFor(t, 20*time.Second, func() (bool, string) {
		(&mlDelegate{n: n}).MergeRemoteState(forgedDigest(victim.cfg.Name, 7), false)
		return c.dels[1].has("only-on-0", "v"), "not repaired"
	})
	// A forged digest sent while the repair was under way may start a
	// second round before the member's digest shows the key it received:
	// each round must still send only what differs.
	waitFor(t, 5*time.Second, func() (bool, string) {
		st := n.Stats()
		return st.RepairRounds >= 1 && st.ObjectsSentRepair > 0, "repair round not finished"
	})
	st := n.Stats()
	if st.ObjectsSentRepair > 2*st.RepairRounds {
		t.Errorf("sent %d objects in %d repair rounds for one differing key, want the few in its bucket", st.ObjectsSentRepair, st.RepairRounds)
	}
	if got := victim.Stats().KeysRepaired; got != 1 {
		t.Errorf("the member changed %d keys by repair, want 1 (the key it lacked)", got)
	}
}

// TestWantWithoutOfferDropped sends wants that answer no offer: forged
// under a member's name, with a wrong nonce, or for buckets or sub-buckets
// not offered.
func TestWantWithoutOfferDropped(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.Memberlist.PushPullInterval = time.Hour })
	c.grow(2)
	c.waitMembers(2, 20*time.Second)
	c.write(0, "k", "v")
	c.waitConverged(10 * time.Second)
	n, peer := c.nodes[0], c.nodes[1].cfg.Name
	sub := func(b uint8, subs ...uint8) subSet {
		s := subSet{Bucket: b}
		for _, x := range subs {
			s.Subs.add(x)
		}
		return s
	}
	offered := []subSet{sub(3, 1, 2), sub(9, 7)}
	n.offers.put(peer, pendingOffer{nonce: 42, offered: offered}, time.Now(), time.Hour)
	one := []subSet{sub(3, 2)}
	d := &mlDelegate{n: n}
	wants := []wantMsg{
		{From: peer, Nonce: 41, Buckets: one},                            // wrong nonce
		{From: peer, Nonce: 42, Buckets: []subSet{sub(4, 2)}},            // bucket never offered
		{From: peer, Nonce: 42, Buckets: []subSet{sub(3, 2, 3)}},         // sub-bucket never offered
		{From: peer, Nonce: 42, Buckets: []subSet{sub(3, 1), sub(9, 8)}}, // one of them never offered
		{From: "mallory", Nonce: 42, Buckets: one},                       // not the peer offered to
		{From: n.cfg.Name, Nonce: 42, Buckets: one},                      // ourselves
		{From: peer + "x", Nonce: 1},
	}
	for _, w := range wants {
		d.NotifyMsg(w.encode())
	}
	waitFor(t, 5*time.Second, func() (bool, string) {
		got := n.Stats().RepairRejected
		return got == uint64(len(wants)), fmt.Sprintf("%d wants rejected, want %d", got, len(wants))
	})
	if st := n.Stats(); st.RepairRounds != 0 || st.RepairWants != 0 {
		t.Fatalf("forged wants started %d repair rounds (%d accepted), want none", st.RepairRounds, st.RepairWants)
	}
	// The real answer still works: forged ones did not cancel the offer.
	d.NotifyMsg(wantMsg{From: peer, Nonce: 42, Buckets: []subSet{sub(3, 1, 2), sub(9, 7)}}.encode())
	waitFor(t, 5*time.Second, func() (bool, string) {
		return n.Stats().RepairWants == 1, "the real want was not accepted"
	})
}

// TestPeerDigestsPruned: a member that dies leaves the digest table.
func TestPeerDigestsPruned(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, nil)
	c.grow(3)
	c.waitMembers(3, 20*time.Second)
	gone := c.nodes[2].cfg.Name
	waitFor(t, 10*time.Second, func() (bool, string) {
		_, ok := c.nodes[0].PeerDigests()[gone]
		return ok, "no digest from node 2 yet"
	})
	if err := c.nodes[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() (bool, string) {
		pd := c.nodes[0].PeerDigests()
		_, ok := pd[gone]
		return !ok && len(pd) == 1, fmt.Sprintf("peer digests %v", pd)
	})
}
