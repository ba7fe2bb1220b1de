package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// mlDelegate implements memberlist.Delegate for a Node. Its methods run on
// memberlist's goroutines: they decode, hand off and return; they never
// call the Delegate or memberlist, and never block.
type mlDelegate struct{ n *Node }

var _ memberlist.Delegate = (*mlDelegate)(nil)

// NodeMeta returns the encoded Config.Meta and leaving flag.
func (d *mlDelegate) NodeMeta(limit int) []byte {
	m := encodeMeta(d.n.cfg.Meta, d.n.leaving.Load())
	if len(m) > limit {
		return nil // New checked the size; unreachable
	}
	return m
}

// inbound is a decoded received message waiting for an inbound worker.
type inbound struct {
	typ    msgType
	delta  deltaMsg
	repair repairMsg
	offer  offerMsg
	want   wantMsg
	size   int
}

// NotifyMsg copies buf, decodes it with bounded reads and queues it for an
// inbound worker. Malformed messages are logged, counted and dropped; a
// full queue drops and counts (anti-entropy repairs the loss).
func (d *mlDelegate) NotifyMsg(buf []byte) {
	n := d.n
	if len(buf) == 0 {
		n.badMessage("", msgInvalid, 0, errTruncated)
		return
	}
	if len(buf) > maxMessageSize {
		n.badMessage("", msgType(buf[0]), len(buf), errTooLarge)
		return
	}
	buf = append([]byte(nil), buf...)
	in := inbound{typ: msgType(buf[0]), size: len(buf)}
	var err error
	switch in.typ {
	case msgDelta:
		in.delta, err = decodeDelta(buf)
	case msgRepair:
		in.repair, err = decodeRepair(buf)
	case msgOffer:
		in.offer, err = decodeOffer(buf)
	case msgWant:
		in.want, err = decodeWant(buf)
	default:
		err = errType
	}
	if err != nil {
		n.badMessage("", in.typ, len(buf), err)
		return
	}
	if n.inBytes.Add(int64(in.size)) > int64(n.cfg.InboundQueueBytes) {
		n.inBytes.Add(-int64(in.size))
		n.stats.droppedInbound.Add(1)
		return
	}
	select {
	case n.inCh <- in:
	default:
		n.inBytes.Add(-int64(in.size))
		n.stats.droppedInbound.Add(1)
	}
}

// badMessage counts a malformed message and logs it, at most once a second
// per message type and reason (see warnLimited).
func (n *Node) badMessage(peer string, t msgType, size int, err error) {
	n.stats.decodeErrors.Add(1)
	kind := "other"
	if t > msgInvalid && t <= msgWant {
		kind = t.String()
	}
	n.warnLimited("malformed "+kind+": "+reasonOf(err), "dropped malformed message",
		"peer", peer, "msg_type", t.String(), "bytes", size, "err", err)
}

// GetBroadcasts hands memberlist queued deltas to piggyback on its packets.
func (d *mlDelegate) GetBroadcasts(overhead, limit int) [][]byte {
	msgs := d.n.queue.GetBroadcasts(overhead, limit)
	for _, m := range msgs {
		d.n.stats.deltasSentBroadcast.Add(1)
		d.n.stats.bytesSentBroadcast.Add(uint64(len(m)))
	}
	return msgs
}

// LocalState returns only the digest (about 2 KiB at most), never state.
func (d *mlDelegate) LocalState(join bool) []byte {
	s := d.n.digest.snapshot()
	d.n.lastSent.Store(s)
	m := digestMsg{From: d.n.cfg.Name, Keys: uint64(s.Keys), Buckets: s.Buckets}
	return m.encode()
}

// MergeRemoteState compares the peer's digest with ours and, if they
// differ, hands a repair job to the repair worker and returns at once.
func (d *mlDelegate) MergeRemoteState(buf []byte, join bool) {
	d.n.onRemoteDigest(buf)
}

// mlEvents implements memberlist.EventDelegate. memberlist calls it with its
// locks held, so it must not call memberlist: it only copies the node into
// the peers table under pmu, a leaf lock never held while calling out.
type mlEvents struct{ n *Node }

func (e *mlEvents) NotifyJoin(nd *memberlist.Node)   { e.n.observe(memberlist.NodeJoin, nd) }
func (e *mlEvents) NotifyLeave(nd *memberlist.Node)  { e.n.observe(memberlist.NodeLeave, nd) }
func (e *mlEvents) NotifyUpdate(nd *memberlist.Node) { e.n.observe(memberlist.NodeUpdate, nd) }

// observe records a membership event in the peers table. The table, not
// memberlist.Members (whose *Node values memberlist keeps writing), is the
// source for Members and for the peers we send to.
func (n *Node) observe(t memberlist.NodeEventType, nd *memberlist.Node) {
	if nd.Name == n.cfg.Name {
		return
	}
	c := *nd
	c.Addr = append([]byte(nil), nd.Addr...)
	c.Meta = append([]byte(nil), nd.Meta...)
	m := memberOf(&c)
	meta, _ := decodeMeta(c.Meta)
	n.pmu.Lock()
	defer n.pmu.Unlock()
	p := n.known[m.Name]
	if p == nil {
		p = &knownPeer{}
		n.known[m.Name] = p
	}
	p.node = c
	switch t {
	case memberlist.NodeJoin, memberlist.NodeUpdate:
		p.Member = m
		p.State = "alive"
		p.goneAt = time.Time{}
		p.leaving = meta.Leaving
	case memberlist.NodeLeave:
		p.Member = m
		p.State = "dead"
		if p.leaving || meta.Leaving {
			p.State = "left"
		}
		p.goneAt = time.Now()
		// Digest state is kept for alive members only.
		delete(n.peerDigests, m.Name)
		n.offers.forget(m.Name)
	}
}

// alivePeers returns copies of the alive peers (not this node).
func (n *Node) alivePeers() []*memberlist.Node {
	n.pmu.Lock()
	defer n.pmu.Unlock()
	out := make([]*memberlist.Node, 0, len(n.known))
	for _, p := range n.known {
		if p.goneAt.IsZero() {
			c := p.node
			out = append(out, &c)
		}
	}
	return out
}

// alivePeer returns a copy of the alive peer called name, or nil.
func (n *Node) alivePeer(name string) *memberlist.Node {
	n.pmu.Lock()
	defer n.pmu.Unlock()
	if p := n.known[name]; p != nil && p.goneAt.IsZero() {
		c := p.node
		return &c
	}
	return nil
}

// inboundWorker merges received deltas and repairs into the Delegate and
// answers repair offers and wants.
func (n *Node) inboundWorker() {
	for {
		select {
		case <-n.stop:
			return
		case in := <-n.inCh:
			n.inBytes.Add(-int64(in.size))
			switch in.typ {
			case msgDelta:
				n.handleDelta(in.delta, in.size)
			case msgRepair:
				n.handleRepair(in.repair, in.size)
			case msgOffer:
				n.handleOffer(in.offer, in.size)
			case msgWant:
				n.handleWant(in.want, in.size)
			}
		}
	}
}

// handleDelta merges a received delta; if it changed local state it is
// queued again (relayed), otherwise it stops here. Large deltas that came by
// SendReliable went to every member already and are not relayed, nor are
// direct pushes in a cluster where they reach every peer (pushReachesAll).
func (n *Node) handleDelta(m deltaMsg, size int) {
	switch m.Sent {
	case sentBroadcast:
		n.stats.deltasRecvBroadcast.Add(1)
		n.stats.bytesRecvBroadcast.Add(uint64(size))
	case sentDirect:
		n.stats.deltasRecvDirect.Add(1)
		n.stats.bytesRecvDirect.Add(uint64(size))
	case sentReliable:
		n.stats.deltasRecvReliable.Add(1)
		n.stats.bytesRecvReliable.Add(uint64(size))
	}
	if m.From == n.cfg.Name {
		return
	}
	info := MergeInfo{Channel: ChannelDelta, Origin: m.Origin, OriginTime: originTime(m.OriginTime), Peer: m.From}
	changed := false
	for _, p := range m.Parts {
		c, err := n.del.Merge(m.Key, p, info)
		if err != nil {
			n.stats.mergeErrors.Add(1)
			n.warnLimited("rejected Delta", "delta rejected", "peer", m.From, "origin", m.Origin, "key", m.Key,
				"msg_type", msgDelta.String(), "bytes", len(p), "err", err)
			break
		}
		changed = changed || c
	}
	if !changed {
		return
	}
	n.stats.merged.Add(1)
	n.markDirty(m.Key)
	if m.Sent == sentReliable || n.cfg.DisableDeltas || (m.Sent == sentDirect && n.pushReachesAll()) {
		return
	}
	n.stats.relayed.Add(1)
	n.enqueueBroadcast(m)
}

// pushReachesAll reports whether the cluster is small enough that the
// origin of a fresh delta pushes it directly to every peer (DirectPushPeers
// covers them all). A delta that came by direct push is then not relayed:
// every peer got it the same way, and the origin's own broadcast covers a
// lost packet. Relaying it too tripled the broadcast traffic of a 3-node
// cluster under load.
func (n *Node) pushReachesAll() bool {
	k := n.cfg.DirectPushPeers
	return k > 0 && n.ml.NumMembers()-1 <= k
}

// handleRepair merges full states from anti-entropy; they are not relayed.
// Entries the Delegate rejects are each counted, and the message gets one
// warning naming the first of them: a message can hold tens of thousands.
func (n *Node) handleRepair(m repairMsg, size int) {
	n.stats.objectsRecvRepair.Add(uint64(len(m.Entries)))
	n.stats.bytesRecvRepair.Add(uint64(size))
	info := MergeInfo{Channel: ChannelRepair, Peer: m.From}
	var (
		rejected int
		first    *repairEntry
		firstErr error
	)
	for i, e := range m.Entries {
		changed, err := n.del.Merge(e.Key, e.Data, info)
		if err != nil {
			n.stats.mergeErrors.Add(1)
			if rejected == 0 {
				first, firstErr = &m.Entries[i], err
			}
			rejected++
			continue
		}
		if changed {
			n.stats.keysRepaired.Add(1)
			n.stats.merged.Add(1)
			n.markDirty(e.Key)
		}
	}
	if rejected > 0 {
		n.warnLimited("rejected Repair", "repair rejected", "peer", m.From, "msg_type", msgRepair.String(),
			"rejected", rejected, "entries", len(m.Entries), "key", first.Key, "bytes", len(first.Data), "err", firstErr)
	}
}
