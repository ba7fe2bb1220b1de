package gossip

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// repairJob asks the repair worker to send our objects in buckets to peer.
type repairJob struct {
	peer    string
	buckets []uint8
}

// maxPeerDigests bounds the PeerDigests table. It only ever holds alive
// members, so this is a backstop should the membership itself grow without
// bound; past it, digests of members not in the table are dropped.
const maxPeerDigests = 1 << 14

// onRemoteDigest handles a peer's digest from a push/pull exchange.
//
// memberlist calls LocalState before MergeRemoteState on both ends of an
// exchange (the initiator sends first; the responder reads, sends, then
// merges), so each end compares the peer's digest with the snapshot it
// sent itself: both ends compute the same differing buckets and each offers
// its own objects in them. (Concurrent exchanges can interleave between
// LocalState and MergeRemoteState; then an end may use a slightly newer
// snapshot, which costs at most one extra or one missed bucket this round.)
//
// memberlist does not say who is at the other end of the exchange, and with
// a shared cluster key any keyed node can write any name into a digest. So
// the name is trusted only so far: it must be an alive member (else the
// digest is dropped and counted in Stats.DigestsRejected), and objects are
// not sent on the digest's word. Instead the node offers the differing
// buckets, with its own bucket hashes and a fresh nonce, to that member at
// the address memberlist knows for it; the member answers with the buckets
// whose hash differs from its own, echoing the nonce, and only then does the
// repair worker send it the objects (handleWant). A digest under a false
// name thus costs the named member one small offer, and at most the repair
// it needs anyway.
func (n *Node) onRemoteDigest(buf []byte) {
	d, err := decodeDigest(buf)
	if err != nil {
		n.badMessage("", msgDigest, len(buf), err)
		return
	}
	if d.From == n.cfg.Name {
		return // a Join that reached this node itself
	}
	ours := n.lastSent.Load()
	if ours == nil {
		ours = n.digest.snapshot()
	}
	diff := diffBuckets(&ours.Buckets, &d.Buckets)
	n.pmu.Lock()
	p := n.known[d.From]
	_, had := n.peerDigests[d.From]
	if p == nil || !p.goneAt.IsZero() || (!had && len(n.peerDigests) >= maxPeerDigests) {
		n.pmu.Unlock()
		n.stats.digestsRejected.Add(1)
		n.warnLimited("digest from non-member", "dropped digest: sender is not an alive member",
			"peer", d.From, "msg_type", msgDigest.String(), "bytes", len(buf))
		return
	}
	n.peerDigests[d.From] = PeerDigest{
		Root:    rootOf(&d.Buckets),
		Keys:    int(min(d.Keys, 1<<31)),
		At:      time.Now(),
		InSync:  len(diff) == 0,
		Buckets: len(diff),
	}
	n.pmu.Unlock()
	n.stats.digestExchanges.Add(1)
	if len(diff) == 0 {
		n.stats.digestsInSync.Add(1)
		return
	}
	if n.cfg.DisableRepair {
		return
	}
	n.offerRepair(d.From, diff)
}

// offerRepair offers peer our objects in buckets, unless an offer to it is
// still unanswered. It never blocks. The offer holds our current bucket
// hashes, not those of the digest we sent (lastSent): the peer compares them
// with its own to choose what it wants of what we hold now.
func (n *Node) offerRepair(peer string, buckets []uint8) {
	cur := n.digest.snapshot()
	o := offerMsg{From: n.cfg.Name, Nonce: newNonce()}
	for _, b := range buckets {
		o.Buckets.add(b)
		o.Hashes[b] = cur.Buckets[b]
	}
	if !n.offers.put(peer, o.Nonce, o.Buckets, time.Now(), n.offerTimeout()) {
		n.stats.repairsSkipped.Add(1)
		return
	}
	if !n.sendControl(controlMsg{peer: peer, msg: o.encode(), nonce: o.Nonce}) {
		n.offers.drop(peer, o.Nonce)
		n.stats.repairsSkipped.Add(1)
		return
	}
	n.stats.repairOffers.Add(1)
}

// offerTimeout is how long an offer waits for its answer: long enough for
// two stream sends.
func (n *Node) offerTimeout() time.Duration {
	return max(2*n.cfg.Memberlist.TCPTimeout, time.Second)
}

func newNonce() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return binary.BigEndian.Uint64(b[:])
}

// handleOffer answers a peer's offer with the offered buckets whose hash
// differs from ours: their objects are what we lack. It answers even when
// that is none, so the peer may offer again.
func (n *Node) handleOffer(m offerMsg, size int) {
	if m.From == n.cfg.Name || n.alivePeer(m.From) == nil {
		n.stats.repairRejected.Add(1)
		n.warnLimited("offer from non-member", "dropped repair offer: sender is not an alive member",
			"peer", m.From, "msg_type", msgOffer.String(), "bytes", size)
		return
	}
	ours := n.digest.snapshot()
	w := wantMsg{From: n.cfg.Name, Nonce: m.Nonce}
	for _, b := range m.Buckets.list() {
		if ours.Buckets[b] != m.Hashes[b] {
			w.Buckets.add(b)
		}
	}
	if !n.sendControl(controlMsg{peer: m.From, msg: w.encode()}) {
		n.stats.repairsSkipped.Add(1)
	}
}

// handleWant starts the repair a peer asked for, if it answers an offer we
// sent that peer (same nonce, not expired) and wants only offered buckets.
// Anything else is dropped and counted: only the member an offer went to
// learnt its nonce.
func (n *Node) handleWant(m wantMsg, size int) {
	if !n.offers.take(m.From, m.Nonce, &m.Buckets, time.Now()) {
		n.stats.repairRejected.Add(1)
		n.warnLimited("unsolicited want", "dropped repair request: it answers no offer of ours",
			"peer", m.From, "msg_type", msgWant.String(), "bytes", size)
		return
	}
	n.stats.repairWants.Add(1)
	if m.Buckets.len() == 0 {
		return
	}
	n.scheduleRepair(repairJob{peer: m.From, buckets: m.Buckets.list()})
}

// offerTable holds the repair offers sent and not yet answered: one per
// peer at most. It is safe for concurrent use; its lock is a leaf.
type offerTable struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]pendingOffer
}

type pendingOffer struct {
	nonce   uint64
	buckets bucketSet
	expires time.Time
}

// put records an offer to peer unless an earlier one is still pending.
func (t *offerTable) put(peer string, nonce uint64, buckets bucketSet, now time.Time, timeout time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.m[peer]; ok && now.Before(p.expires) {
		return false
	}
	if t.m == nil {
		t.m = make(map[string]pendingOffer)
	}
	t.m[peer] = pendingOffer{nonce: nonce, buckets: buckets, expires: now.Add(timeout)}
	return true
}

// take removes and accepts the offer to peer that a want answers: same
// nonce, not expired, and no bucket that was not offered. Otherwise the
// table is left as it was, so a forged want cannot cancel a real offer.
func (t *offerTable) take(peer string, nonce uint64, want *bucketSet, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.m[peer]
	if !ok || p.nonce != nonce || !now.Before(p.expires) || !want.subsetOf(&p.buckets) {
		return false
	}
	delete(t.m, peer)
	return true
}

// drop removes the offer to peer with nonce, if it is still the pending one.
func (t *offerTable) drop(peer string, nonce uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.m[peer]; ok && p.nonce == nonce {
		delete(t.m, peer)
	}
}

// forget removes any offer to peer (it left or died).
func (t *offerTable) forget(peer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, peer)
}

// controlMsg is an offer or a want waiting for the control worker. nonce is
// that of an offer (0 for a want), dropped from the offer table if the send
// fails.
type controlMsg struct {
	peer  string
	msg   []byte
	nonce uint64
}

// sendControl queues a control message; false if the queue is full.
func (n *Node) sendControl(c controlMsg) bool {
	select {
	case n.ctrlCh <- c:
		return true
	default:
		return false
	}
}

// controlWorker sends offers and wants by SendReliable, apart from the
// repair worker, which may spend seconds on one rate-limited repair.
func (n *Node) controlWorker() {
	for {
		select {
		case <-n.stop:
			return
		case c := <-n.ctrlCh:
			peer := n.alivePeer(c.peer)
			var err error
			if peer == nil {
				err = errors.New("not an alive member")
			} else {
				err = n.ml.SendReliable(peer, c.msg)
			}
			if err != nil {
				if c.nonce != 0 {
					n.offers.drop(c.peer, c.nonce)
				}
				n.stats.sendErrors.Add(1)
				n.log.Debug("repair control send", "peer", c.peer, "msg_type", msgType(c.msg[0]).String(), "err", err)
			}
		}
	}
}

// scheduleRepair queues a job unless one for the same peer is queued or
// running (one repair per peer at a time). It never blocks.
func (n *Node) scheduleRepair(j repairJob) {
	n.rmu.Lock()
	if n.repairBusy[j.peer] {
		n.rmu.Unlock()
		n.stats.repairsSkipped.Add(1)
		return
	}
	n.repairBusy[j.peer] = true
	n.rmu.Unlock()
	select {
	case n.repairCh <- j:
	default:
		n.rmu.Lock()
		delete(n.repairBusy, j.peer)
		n.rmu.Unlock()
		n.stats.repairsSkipped.Add(1)
	}
}

// repairWorker runs repair jobs one at a time under a byte-rate cap shared
// by all of them.
func (n *Node) repairWorker() {
	lim := &rateLimiter{rate: float64(n.cfg.RepairBytesPerSecond), stop: n.stop}
	for {
		select {
		case <-n.stop:
			return
		case j := <-n.repairCh:
			n.runRepair(j, lim)
			n.rmu.Lock()
			delete(n.repairBusy, j.peer)
			n.rmu.Unlock()
		}
	}
}

// runRepair sends the full state of every object we hold in j.buckets to
// j.peer by SendReliable, in chunks of at most MaxRepairChunk bytes.
func (n *Node) runRepair(j repairJob, lim *rateLimiter) {
	peer := n.alivePeer(j.peer)
	if peer == nil {
		return
	}
	n.stats.repairRounds.Add(1)
	n.stats.divergentBuckets.Add(uint64(len(j.buckets)))
	chunk := repairChunker{from: n.cfg.Name, maxBytes: n.cfg.MaxRepairChunk}
	chunk.run(n.digest.keysIn(j.buckets), n.del.State, func(m *repairMsg) bool {
		msg := m.encode()
		if !lim.wait(len(msg)) {
			return false
		}
		if err := n.ml.SendReliable(peer, msg); err != nil {
			n.stats.sendErrors.Add(1)
			n.log.Debug("repair send", "peer", j.peer, "bytes", len(msg), "err", err)
			return false
		}
		n.stats.objectsSentRepair.Add(uint64(len(m.Entries)))
		n.stats.bytesSentRepair.Add(uint64(len(msg)))
		return true
	})
}

// repairChunker cuts the states of keys into repair messages of at most
// maxBytes and maxRepairEntries entries (an object larger than maxBytes
// goes alone).
type repairChunker struct {
	from     string
	maxBytes int
}

// run reads each key's state and calls send with every full chunk and the
// last one, until send returns false.
func (c repairChunker) run(keys []string, state func(string) ([]byte, bool), send func(*repairMsg) bool) {
	chunk := repairMsg{From: c.from}
	size := 0
	for _, k := range keys {
		data, ok := state(k)
		if !ok {
			continue
		}
		es := repairEntrySize(k, data)
		if size > 0 && (size+es > c.maxBytes || len(chunk.Entries) == maxRepairEntries) {
			if !send(&chunk) {
				return
			}
			chunk.Entries, size = nil, 0
		}
		chunk.Entries = append(chunk.Entries, repairEntry{Key: k, Data: data})
		size += es
	}
	if len(chunk.Entries) > 0 {
		send(&chunk)
	}
}

// rateLimiter spaces sends so that on average at most rate bytes per
// second go out. It allows one burst of up to one second's budget.
type rateLimiter struct {
	rate float64
	next time.Time
	stop <-chan struct{}
}

// wait blocks until bytes may be sent; false if the node stopped.
func (l *rateLimiter) wait(bytes int) bool {
	now := time.Now()
	if l.next.Before(now.Add(-time.Second)) {
		l.next = now.Add(-time.Second)
	}
	l.next = l.next.Add(time.Duration(float64(bytes) / l.rate * float64(time.Second)))
	if d := l.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-l.stop:
			return false
		case <-t.C:
		}
	}
	return true
}
