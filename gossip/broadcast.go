package gossip

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// localDelta is a published local change waiting for the local worker.
type localDelta struct {
	key        string
	data       []byte
	originTime int64
}

// deltaBroadcast is one key's entry in the transmit queue. Its message is
// the join of every delta of that key that was queued and not yet retired:
// enqueueBroadcast replaces it with a broadcast carrying old and new parts,
// or the key's full state.
type deltaBroadcast struct {
	key  string
	m    deltaMsg // decoded form, kept for combining
	msg  []byte
	done atomic.Bool // set by Finished (under the queue's lock)
}

var _ memberlist.NamedBroadcast = (*deltaBroadcast)(nil)

func (b *deltaBroadcast) Name() string    { return b.key }
func (b *deltaBroadcast) Message() []byte { return b.msg }

// Invalidates reports whether o is an older broadcast of the same key.
func (b *deltaBroadcast) Invalidates(o memberlist.Broadcast) bool {
	nb, ok := o.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.key
}

// Finished is called by the queue under its lock: it must not take our
// locks (enqueueBroadcast holds bmu while queueing), so it only sets a flag.
func (b *deltaBroadcast) Finished() { b.done.Store(true) }

// maxBroadcast is the largest delta message put on the transmit queue or
// pushed directly by UDP: half the packet budget, so a delta shares packets
// with membership messages and other deltas. Larger ones go by SendReliable.
func (n *Node) maxBroadcast() int { return n.cfg.Memberlist.UDPBufferSize / 2 }

// sendLocal sends a fresh local delta: directly to Config.DirectPushPeers
// peers (all of them in a small cluster), and onto the transmit queue; or by
// SendReliable if it is large.
func (n *Node) sendLocal(d localDelta) {
	if n.ml.NumMembers() <= 1 {
		return // nobody to tell; a node that joins later catches up by anti-entropy
	}
	m := deltaMsg{
		Sent:       sentDirect,
		From:       n.cfg.Name,
		Origin:     n.cfg.Name,
		Key:        d.key,
		OriginTime: d.originTime,
		Parts:      [][]byte{d.data},
	}
	msg := m.encode()
	if len(msg) > n.maxBroadcast() {
		m.Sent = sentReliable
		n.sendReliable(m.encode())
		return
	}
	for _, nd := range n.directPeers() {
		if err := n.ml.SendBestEffort(nd, msg); err != nil {
			n.stats.sendErrors.Add(1)
			n.log.Debug("direct push", "peer", nd.Name, "err", err)
			continue
		}
		n.stats.deltasSentDirect.Add(1)
		n.stats.bytesSentDirect.Add(uint64(len(msg)))
	}
	n.enqueueBroadcast(m)
}

// directPeers returns the peers a fresh local delta is pushed to directly:
// every alive peer, or Config.DirectPushPeers of them chosen at random.
func (n *Node) directPeers() []*memberlist.Node {
	k := n.cfg.DirectPushPeers
	if k <= 0 {
		return nil
	}
	peers := n.alivePeers()
	if len(peers) <= k {
		return peers
	}
	for i := range k { // a partial Fisher-Yates shuffle picks k of them
		j := i + rand.IntN(len(peers)-i)
		peers[i], peers[j] = peers[j], peers[i]
	}
	return peers[:k]
}

// enqueueBroadcast puts m (a local delta or a relay) on the transmit queue.
// The caller merged m into the Delegate first, so the key's state subsumes
// it.
//
// If a broadcast of the same key is still queued, the new one should carry
// the join of both, since it replaces the old one. Gossip cannot join opaque
// bytes, so it tries, in order: (1) carry the old parts and the new ones in
// one message (exact, cheap, no Delegate call); (2) carry the key's current
// full state, which subsumes both, if it fits a packet; (3) queue the new
// delta alone, counted as a dropped broadcast: anti-entropy repairs what the
// old one had yet to deliver. Keys outside the digest (Config.SkipDigest)
// skip (1), as they change all the time and their state is as small as one
// delta, and instead of (3), which nothing would repair, send the new delta
// to every member by SendReliable, leaving the old broadcast queued.
//
// Delegate.State is called without bmu held: it encodes a whole object and
// may wait for the Delegate's own lock, and holding bmu meanwhile would stall
// the broadcasts of every other key. After it returns, the queued broadcast
// is looked up again; if another one of the key was queued meanwhile, its
// deltas may postdate the state read, so the state is read again for it.
// Each retry means another goroutine queued a broadcast of the key, so the
// loop ends.
func (n *Node) enqueueBroadcast(m deltaMsg) {
	m.Sent = sentBroadcast
	m.From = n.cfg.Name
	limit := n.maxBroadcast()

	var (
		stateFor *deltaBroadcast // the queued broadcast state was read for
		state    []byte
		stateOK  bool
	)
	n.bmu.Lock()
	defer n.bmu.Unlock()
	for {
		old := n.queued[m.Key]
		if old == nil || old.done.Load() {
			break
		}
		c := old.m
		c.From = n.cfg.Name
		if m.OriginTime != 0 && (c.OriginTime == 0 || m.OriginTime < c.OriginTime) {
			c.OriginTime, c.Origin = m.OriginTime, m.Origin
		}
		c.Parts = append(append([][]byte(nil), old.m.Parts...), m.Parts...)
		if n.hashed(m.Key) {
			if msg := c.encode(); len(c.Parts) <= maxParts && len(msg) <= limit {
				n.stats.combined.Add(1)
				n.queueLocked(c, msg)
				return
			}
		}
		if stateFor != old {
			n.bmu.Unlock()
			state, stateOK = n.del.State(m.Key)
			n.bmu.Lock()
			stateFor = old
			continue
		}
		n.stats.combined.Add(1)
		if stateOK {
			c.Parts = [][]byte{state}
			if msg := c.encode(); len(msg) <= limit {
				n.queueLocked(c, msg)
				return
			}
		}
		if !n.hashed(m.Key) {
			// Nothing repairs such a key: leave the old broadcast queued
			// and send the new delta beside it to every member.
			c.Parts = m.Parts
			c.Sent = sentReliable
			n.sendReliable(c.encode())
			return
		}
		// The join fits no packet: the new delta replaces the old
		// broadcast, and anti-entropy repairs what that had yet to
		// deliver. Sending the join to every member over TCP instead took
		// a quarter of a node's CPU under a write load the queue could
		// not carry.
		n.stats.droppedBroadcasts.Add(1)
		break
	}
	msg := m.encode()
	if len(msg) > limit {
		m.Sent = sentReliable
		n.sendReliable(m.encode())
		return
	}
	n.queueLocked(m, msg)
}

// queueBound is how many broadcasts the transmit queue holds in a cluster
// of the given size: 4096, or twice the members in a larger cluster
// (serf's bound), so that every member's latest change fits.
func queueBound(members int) int { return max(4096, 2*members) }

// queueLocked queues a broadcast and prunes the queue to queueBound. bmu
// must be held.
func (n *Node) queueLocked(m deltaMsg, msg []byte) {
	b := &deltaBroadcast{key: m.Key, m: m, msg: msg}
	n.queued[m.Key] = b
	n.queue.QueueBroadcast(b)
	limit := queueBound(n.numNodes())
	if q := n.queue.NumQueued(); q > limit {
		n.queue.Prune(limit)
		n.stats.droppedBroadcasts.Add(uint64(q - n.queue.NumQueued()))
	}
	if len(n.queued) > 2*limit {
		for k, b := range n.queued {
			if b.done.Load() {
				delete(n.queued, k)
			}
		}
	}
}

// sendReliable hands a large delta message to the reliable worker, which
// sends it to every alive member; if its queue is full the delta is left to
// anti-entropy.
func (n *Node) sendReliable(msg []byte) {
	select {
	case n.relCh <- msg:
		n.stats.reliableQueued.Add(1)
	default:
		n.stats.droppedReliable.Add(1)
	}
}

// reliableWorker sends large deltas by SendReliable to all alive members.
func (n *Node) reliableWorker() {
	for {
		select {
		case <-n.stop:
			return
		case msg := <-n.relCh:
			for _, nd := range n.alivePeers() {
				select {
				case <-n.stop:
					return
				default:
				}
				if err := n.ml.SendReliable(nd, msg); err != nil {
					n.stats.sendErrors.Add(1)
					n.log.Debug("reliable delta", "peer", nd.Name, "bytes", len(msg), "err", err)
					continue
				}
				n.stats.deltasSentReliable.Add(1)
				n.stats.bytesSentReliable.Add(uint64(len(msg)))
			}
		}
	}
}

// localWorker applies digest updates and sends published deltas. It is the
// only goroutine that writes digest entries from Delegate.State, so the
// digest never goes back to an older state of a key. While keys wait to be
// hashed it ticks every DigestDelay/2, and a hashSchedule picks the keys to
// hash at each tick: a key is read and hashed once it has been quiet for a
// tick (DigestDelay after its last change at most), or DigestMaxDelay after
// its first change if it keeps changing.
func (n *Node) localWorker() {
	sched := newHashSchedule(n.cfg.DigestMaxDelay)
	var tick <-chan time.Time // set while a tick is scheduled
	var timer *time.Timer
	schedule := func() {
		switch {
		case tick != nil:
		case n.cfg.DigestDelay < 0:
			n.flushDirty()
		case timer == nil:
			timer = time.NewTimer(n.cfg.DigestDelay / 2)
			tick = timer.C
		default:
			timer.Reset(n.cfg.DigestDelay / 2)
			tick = timer.C
		}
	}
	for {
		select {
		case <-n.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case d := <-n.pubCh:
			n.sendLocal(d)
		case <-n.dirtyCh:
			schedule()
		case now := <-tick:
			tick = nil
			n.hashDue(sched, now)
			if sched.waiting() {
				schedule()
			}
		}
	}
}
