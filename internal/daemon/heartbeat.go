package daemon

import (
	"context"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// hasAlivePeer reports whether gossip knows another member alive.
func (d *Daemon) hasAlivePeer() bool {
	self := d.gossip.LocalMember().Name
	for _, m := range d.gossip.Members() {
		if m.Name != self && m.State == "alive" {
			return true
		}
	}
	return false
}

// beat publishes one heartbeat of this node.
func (d *Daemon) beat() {
	ts := d.clock.stamp()
	var reg crdt.LWWRegister[int64]
	delta := reg.Set(ts, ts.Wall)
	b, err := delta.MarshalBinary()
	if err != nil {
		d.log.Error("encode heartbeat", "err", err)
		return
	}
	d.beats.setOwn(b)
	d.gossip.Publish(heartbeatPrefix+string(d.replica), b, ts.Time())
}

func (d *Daemon) heartbeatLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.beat()
		every := d.heartbeatEvery()
		d.beatEvery.Store(int64(every))
		t.Reset(every)
	}
}

// beatInterval returns the heartbeat interval heartbeatLoop last chose, or
// HeartbeatInterval before its first beat.
func (d *Daemon) beatInterval() time.Duration {
	if every := d.beatEvery.Load(); every > 0 {
		return time.Duration(every)
	}
	return d.cfg.HeartbeatInterval
}

// clusterBeats is about how many heartbeats the whole cluster makes per
// HeartbeatInterval once it has more than that many nodes.
const clusterBeats = 10

// heartbeatEvery returns how often this node beats: HeartbeatInterval,
// times one more for every further clusterBeats members. Every beat reaches
// every node, and each node relays it a few times (RetransmitMult times the
// log of the cluster size) on its gossip packets, which carry only so many
// bytes a second. Beating every second, the 50 nodes of a local cluster
// filled those packets with heartbeats alone, and cart deltas waited
// seconds behind them.
func (d *Daemon) heartbeatEvery() time.Duration {
	alive := 0
	for _, m := range d.gossip.Members() {
		if m.State == "alive" {
			alive++
		}
	}
	return scaledBeat(d.cfg.HeartbeatInterval, alive)
}

// scaledBeat returns base times one more for every clusterBeats alive
// members after the first clusterBeats.
func scaledBeat(base time.Duration, alive int) time.Duration {
	return base * time.Duration(1+max(0, alive-1)/clusterBeats)
}
