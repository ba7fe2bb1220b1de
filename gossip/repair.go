package gossip

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// repairJob asks the repair worker to send peer our objects in the
// sub-buckets parts, then to offer it the buckets rest.
type repairJob struct {
	peer  string
	parts []subSet
	rest  []uint8
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
// buckets, with its own hash of each of their sub-buckets and a fresh
// nonce, to that member at the address memberlist knows for it; the member
// answers with the sub-buckets whose hash differs from its own, echoing the
// nonce, and only then does the repair worker send it the objects of those
// sub-buckets (handleWant). A digest under a false name thus costs the
// named member one offer (at most 34 KiB, sent under the repair byte-rate
// cap), and at most the repair it needs anyway.
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
	if n.cfg.DisableRepair || !n.digest.loaded() {
		return
	}
	n.offerRepair(d.From, diff)
}

// offerRepair offers peer our objects in buckets, unless an offer to it is
// still unanswered. It never blocks. One offer carries at most
// maxOfferBuckets buckets, starting at a random one of buckets, so that no
// bucket waits for ever behind others; the rest are offered once the
// peer's want for these has been served (see repairWorker), or else at a
// later exchange. The offer holds the hashes of our current sub-buckets,
// not of the digest we sent (lastSent): the peer compares them with its
// own to choose what it wants of what we hold now. Buckets where we hold
// nothing are left out: we have nothing to send there.
func (n *Node) offerRepair(peer string, buckets []uint8) {
	if n.offers.pending(peer, time.Now()) {
		n.stats.repairsSkipped.Add(1)
		return
	}
	if len(buckets) > maxOfferBuckets {
		start := rand.IntN(len(buckets))
		buckets = append(slices.Clone(buckets[start:]), buckets[:start]...)
	}
	o := offerMsg{From: n.cfg.Name, Nonce: newNonce()}
	var rest []uint8
	for i, b := range buckets {
		if len(o.Buckets) == maxOfferBuckets {
			rest = slices.Clone(buckets[i:])
			break
		}
		if ob, ok := n.digest.offerBucket(b); ok {
			o.Buckets = append(o.Buckets, ob)
		}
	}
	if len(o.Buckets) == 0 {
		return
	}
	slices.SortFunc(o.Buckets, func(a, b offerBucket) int { return int(a.Bucket) - int(b.Bucket) })
	offered := make([]subSet, len(o.Buckets))
	for i, ob := range o.Buckets {
		offered[i] = subSet{Bucket: ob.Bucket, Subs: ob.Subs}
	}
	if !n.offers.put(peer, pendingOffer{nonce: o.Nonce, offered: offered, rest: rest}, time.Now(), n.offerTimeout()) {
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

// handleOffer answers a peer's offer with the offered sub-buckets whose
// hash differs from ours: their objects are what we lack. It answers even
// when that is none, so the peer may offer again.
func (n *Node) handleOffer(m offerMsg, size int) {
	if m.From == n.cfg.Name || n.alivePeer(m.From) == nil {
		n.stats.repairRejected.Add(1)
		n.warnLimited("offer from non-member", "dropped repair offer: sender is not an alive member",
			"peer", m.From, "msg_type", msgOffer.String(), "bytes", size)
		return
	}
	w := wantMsg{From: n.cfg.Name, Nonce: m.Nonce}
	for i := range m.Buckets {
		if !n.digest.loaded() {
			break // a partial digest would want what we hold: want nothing yet
		}
		ob := &m.Buckets[i]
		ours, theirs := n.digest.subHashes(ob.Bucket), ob.hashes()
		want := subSet{Bucket: ob.Bucket}
		for _, s := range ob.Subs.list() {
			if ours[s] != theirs[s] {
				want.Subs.add(s)
			}
		}
		if want.Subs.len() > 0 {
			w.Buckets = append(w.Buckets, want)
		}
	}
	if !n.sendControl(controlMsg{peer: m.From, msg: w.encode()}) {
		n.stats.repairsSkipped.Add(1)
	}
}

// handleWant starts the repair a peer asked for, if it answers an offer we
// sent that peer (same nonce, not expired) and wants only offered
// sub-buckets. Anything else is dropped and counted: only the member an
// offer went to learnt its nonce. A want of nothing ends the offers of
// this exchange: the buckets not yet offered wait for a later one.
func (n *Node) handleWant(m wantMsg, size int) {
	p, ok := n.offers.take(m.From, m.Nonce, m.Buckets, time.Now())
	if !ok {
		n.stats.repairRejected.Add(1)
		n.warnLimited("unsolicited want", "dropped repair request: it answers no offer of ours",
			"peer", m.From, "msg_type", msgWant.String(), "bytes", size)
		return
	}
	n.stats.repairWants.Add(1)
	if len(m.Buckets) == 0 {
		return
	}
	n.scheduleRepair(repairJob{peer: m.From, parts: m.Buckets, rest: p.rest})
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
// Offers, of up to 34 KiB, go out at most at RepairBytesPerSecond: a digest
// under a false name must not make the node flood the member it names.
func (n *Node) controlWorker() {
	lim := &rateLimiter{rate: float64(n.cfg.RepairBytesPerSecond), stop: n.stop}
	for {
		select {
		case <-n.stop:
			return
		case c := <-n.ctrlCh:
			if c.nonce != 0 && !lim.wait(len(c.msg)) {
				return
			}
			peer := n.alivePeer(c.peer)
			var err error
			if peer == nil {
				err = errors.New("not an alive member")
			} else {
				err = n.ml.SendReliable(peer, c.msg)
			}
			if err == nil {
				n.stats.bytesSentControl.Add(uint64(len(c.msg)))
			} else {
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
			sent := n.runRepair(j, lim)
			n.rmu.Lock()
			delete(n.repairBusy, j.peer)
			n.rmu.Unlock()
			if sent && len(j.rest) > 0 {
				n.offerRepair(j.peer, j.rest)
			}
		}
	}
}

// runRepair sends the full state of every object we hold in j.parts to
// j.peer by SendReliable, in chunks of at most MaxRepairChunk bytes. It
// reports whether it sent them all.
func (n *Node) runRepair(j repairJob, lim *rateLimiter) bool {
	peer := n.alivePeer(j.peer)
	if peer == nil {
		return false
	}
	n.stats.repairRounds.Add(1)
	n.stats.divergentBuckets.Add(uint64(len(j.parts)))
	n.stats.divergentSubBuckets.Add(uint64(subBucketCount(j.parts)))
	chunk := repairChunker{from: n.cfg.Name, maxBytes: n.cfg.MaxRepairChunk}
	return chunk.run(n.digest.keysIn(j.parts), n.del.State, func(m *repairMsg) bool {
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
// last one, until send returns false. It reports whether every send
// returned true.
func (c repairChunker) run(keys []string, state func(string) ([]byte, bool), send func(*repairMsg) bool) bool {
	chunk := repairMsg{From: c.from}
	header := repairHeaderSize(c.from)
	size := header
	for _, k := range keys {
		data, ok := state(k)
		if !ok {
			continue
		}
		es := repairEntrySize(k, data)
		if len(chunk.Entries) > 0 && (size+es > c.maxBytes || len(chunk.Entries) == maxRepairEntries) {
			if !send(&chunk) {
				return false
			}
			chunk.Entries, size = nil, header
		}
		chunk.Entries = append(chunk.Entries, repairEntry{Key: k, Data: data})
		size += es
	}
	if len(chunk.Entries) > 0 {
		return send(&chunk)
	}
	return true
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
