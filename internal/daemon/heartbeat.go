package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// The consistency monitor: every node bumps its own heartbeat object every
// HeartbeatInterval (less often in clusters above 10 nodes, see
// heartbeatEvery) and gossips it like any delta. Every node records when
// each peer's latest beat was made; the age of that beat here is how stale
// our view of that peer is, measured continuously.

func (r *registry) mergeHeartbeat(replica string, data []byte) (bool, error) {
	id, err := crdt.ParseReplicaID(replica)
	if err != nil {
		r.d.metrics.decodeErrors.WithLabelValues("gossip").Inc()
		return false, fmt.Errorf("heartbeat key: %v", err)
	}
	var in crdt.LWWRegister[int64]
	if err := in.UnmarshalBinary(data); err != nil {
		r.d.metrics.decodeErrors.WithLabelValues("gossip").Inc()
		return false, err
	}
	ts := in.Timestamp()
	if ts.Replica != id {
		return false, fmt.Errorf("heartbeat of %s written by %s", id, ts.Replica)
	}
	if err := r.d.checkRemoteTime(ts); err != nil {
		return false, err
	}
	r.mu.Lock()
	hb := r.beats[id]
	if hb == nil {
		if len(r.beats) >= 10_000 {
			r.mu.Unlock()
			return false, fmt.Errorf("%w: heartbeats", errTooManyObjs)
		}
		hb = &heartbeat{}
		r.beats[id] = hb
	}
	changed := hb.reg.Merge(&in)
	if changed {
		hb.received = r.d.now()
	}
	r.mu.Unlock()
	r.d.observe(ts)
	return changed, nil
}

// setOwnBeat records the encoding of this node's latest heartbeat.
func (r *registry) setOwnBeat(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ownBeat = b
}

// heartbeatState returns the encoding of replica's latest heartbeat known
// here: our own last beat, or the latest merged from a peer.
func (r *registry) heartbeatState(replica crdt.ReplicaID) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if replica == r.d.replica {
		return r.ownBeat, r.ownBeat != nil
	}
	hb := r.beats[replica]
	if hb == nil {
		return nil, false
	}
	b, err := hb.reg.MarshalBinary()
	return b, err == nil
}

// isHeartbeatKey reports whether a gossip key is a heartbeat's.
func isHeartbeatKey(key string) bool { return strings.HasPrefix(key, heartbeatPrefix) }

// staleness returns how old the latest heartbeat from replica is here, or
// -1 if none arrived.
func (r *registry) staleness(replica string, now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	hb := r.beats[crdt.ReplicaID(replica)]
	if hb == nil {
		return -1
	}
	wall, _ := hb.reg.Value()
	return max(0, now.Sub(time.Unix(0, wall)).Seconds())
}

// errClockAhead refuses a local write whose timestamp peers would reject.
var errClockAhead = errors.New("local clock is ahead of the cluster")

// clockAhead reports how far this node's clock runs ahead of its peers, as
// the youngest age here of the peers' recent heartbeats (a heartbeat carries
// its origin's wall time). It is only known when a peer's heartbeat arrived
// in the last few intervals. If even the closest peer's fresh heartbeat
// looks older than the drift limit, our clock is too far ahead: peers would
// reject what we write.
func (r *registry) clockAhead(now time.Time, self crdt.ReplicaID, fresh time.Duration) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	best, known := time.Duration(0), false
	for id, hb := range r.beats {
		if id == self || now.Sub(hb.received) > fresh {
			continue
		}
		wall, _ := hb.reg.Value()
		if age := now.Sub(time.Unix(0, wall)); !known || age < best {
			best, known = age, true
		}
	}
	return best, known
}

// checkLocalClock refuses to stamp a local write that peers would reject
// for clock drift: when our hybrid clock has been carried more than the
// drift limit past physical time (a skewed clock earlier, restored from
// disk), or when every peer's fresh heartbeat says our clock is ahead by
// more than the limit. Acknowledging such a write would leave it stranded
// on this node until real time catches up.
func (d *Daemon) checkLocalClock(ts crdt.Timestamp) error {
	now := d.now()
	if ahead := time.Duration(ts.Wall - now.UnixNano()); ahead > d.cfg.MaxDrift {
		d.metrics.rejected.WithLabelValues("local_clock_ahead").Inc()
		return fmt.Errorf("%w: the node's clock was carried %v past physical time (max drift %v); "+
			"writes resume when time catches up", errClockAhead, ahead.Round(time.Millisecond), d.cfg.MaxDrift)
	}
	if ahead, ok := d.reg.clockAhead(now, d.replica, 5*d.beatInterval()); ok && ahead > d.cfg.MaxDrift {
		d.metrics.rejected.WithLabelValues("local_clock_ahead").Inc()
		return fmt.Errorf("%w: peers' clocks are %v behind this node's (max drift %v); fix the clock",
			errClockAhead, ahead.Round(time.Millisecond), d.cfg.MaxDrift)
	}
	return nil
}

// awaitPeerClocks holds a local write made in the first few heartbeat
// intervals after start, until a peer's heartbeat has told us whether our
// clock is ahead. Without it, a node restarted with a skewed clock would
// stamp its first writes into the future before it could know. A node with
// no seeds, or whose peers stay silent, goes ahead once the grace period
// ends: writes must work on a node cut off from the others. So does a node
// that joined and found itself alone.
func (d *Daemon) awaitPeerClocks(ctx context.Context) {
	if len(d.cfg.Join) == 0 {
		return
	}
	grace := d.started.Add(3 * d.cfg.HeartbeatInterval)
	fresh := 5 * d.cfg.HeartbeatInterval
	for time.Now().Before(grace) {
		if _, ok := d.reg.clockAhead(d.now(), d.replica, fresh); ok {
			return
		}
		if d.joined.Load() && !d.hasAlivePeer() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

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
	ts := d.clockNow()
	var reg crdt.LWWRegister[int64]
	delta := reg.Set(ts, ts.Wall)
	b, err := delta.MarshalBinary()
	if err != nil {
		d.log.Error("encode heartbeat", "err", err)
		return
	}
	d.reg.setOwnBeat(b)
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
