package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// repairJob asks the repair worker to send our objects in buckets to peer.
type repairJob struct {
	peer    string
	buckets []uint8
}

// onRemoteDigest handles a peer's digest from a push/pull exchange.
//
// memberlist calls LocalState before MergeRemoteState on both ends of an
// exchange (the initiator sends first; the responder reads, sends, then
// merges), so each end compares the peer's digest with the snapshot it
// sent itself: both ends compute the same differing buckets and each sends
// its own objects in them. The union of what both send makes both sides
// equal in those buckets. (Concurrent exchanges can interleave between
// LocalState and MergeRemoteState; then an end may use a slightly newer
// snapshot, which costs at most one extra or one missed bucket this round.)
func (n *Node) onRemoteDigest(buf []byte) {
	d, err := decodeDigest(buf)
	if err != nil {
		n.badMessage("", msgDigest, len(buf), err)
		return
	}
	n.stats.digestExchanges.Add(1)
	if d.From == n.cfg.Name {
		return
	}
	ours := n.lastSent.Load()
	if ours == nil {
		ours = n.digest.snapshot()
	}
	diff := diffBuckets(&ours.Buckets, &d.Buckets)
	n.pmu.Lock()
	n.peerDigests[d.From] = PeerDigest{
		Root:    rootOf(&d.Buckets),
		Keys:    int(min(d.Keys, 1<<31)),
		At:      time.Now(),
		InSync:  len(diff) == 0,
		Buckets: len(diff),
	}
	n.pmu.Unlock()
	if len(diff) == 0 {
		n.stats.digestsInSync.Add(1)
		return
	}
	if n.cfg.DisableRepair {
		return
	}
	n.scheduleRepair(repairJob{peer: d.From, buckets: diff})
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
	var peer *memberlist.Node
	for _, nd := range n.alivePeers() {
		if nd.Name == j.peer {
			peer = nd
			break
		}
	}
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
