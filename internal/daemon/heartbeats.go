package daemon

import (
	"fmt"
	"sync"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// The consistency monitor: every node bumps its own heartbeat object every
// HeartbeatInterval (less often in clusters above 10 nodes, see
// heartbeatEvery) and gossips it like any delta. Every node records when
// each peer's latest beat was made; the age of that beat here is how stale
// our view of that peer is, measured continuously.

// maxBeats bounds how many peers' heartbeats a node keeps.
const maxBeats = 10_000

// heartbeat is what this node knows of one peer's consistency heartbeat.
type heartbeat struct {
	reg      crdt.LWWRegister[int64] // value: the beat's wall time at the origin
	received time.Time               // local time the latest beat arrived
}

// heartbeats is the table of the latest heartbeat of every replica, ours
// included. It is safe for concurrent use.
type heartbeats struct {
	self    crdt.ReplicaID
	clock   *nodeClock
	metrics *metrics
	// member reports whether a cluster member's metadata names replica:
	// beats of replicas no member claims are refused, so that a peer cannot
	// fill the table with invented replicas. Nil accepts every replica.
	member func(replica crdt.ReplicaID) bool

	// mu guards the fields below.
	mu    sync.Mutex
	beats map[crdt.ReplicaID]*heartbeat
	// own is the encoding of this node's latest heartbeat; replaced, never
	// modified, so state may hand it out.
	own []byte
}

func newHeartbeats(self crdt.ReplicaID, clock *nodeClock, m *metrics, member func(crdt.ReplicaID) bool) *heartbeats {
	return &heartbeats{self: self, clock: clock, metrics: m, member: member, beats: make(map[crdt.ReplicaID]*heartbeat)}
}

// merge merges a peer's heartbeat.
func (h *heartbeats) merge(replica string, data []byte) (bool, error) {
	id, err := crdt.ParseReplicaID(replica)
	if err != nil {
		h.metrics.decodeErrors.WithLabelValues("gossip").Inc()
		return false, fmt.Errorf("heartbeat key: %v", err)
	}
	var in crdt.LWWRegister[int64]
	if err := in.UnmarshalBinary(data); err != nil {
		h.metrics.decodeErrors.WithLabelValues("gossip").Inc()
		return false, err
	}
	ts := in.Timestamp()
	if ts.Replica != id {
		h.metrics.rejected.WithLabelValues("heartbeat_forged").Inc()
		return false, fmt.Errorf("heartbeat of %s written by %s", id, ts.Replica)
	}
	// A beat's value is the wall time of its own timestamp. A forged beat
	// that paired a fresh timestamp (so that it wins the register) with an
	// old value (so that our clock looks ahead) made every node refuse
	// writes; with the two bound together an old value needs an old
	// timestamp, which loses to the real, newer beat.
	if wall, _ := in.Value(); wall != ts.Wall {
		h.metrics.rejected.WithLabelValues("heartbeat_forged").Inc()
		return false, fmt.Errorf("heartbeat of %s: value %d does not match its timestamp %d", id, wall, ts.Wall)
	}
	if err := h.clock.checkRemote(ts); err != nil {
		return false, err
	}
	if id == h.self {
		return false, nil // our own beat, relayed back: nothing new
	}
	if h.member != nil && !h.member(id) {
		h.metrics.rejected.WithLabelValues("heartbeat_unknown_replica").Inc()
		return false, fmt.Errorf("heartbeat of %s: no other member has that replica ID", id)
	}
	h.mu.Lock()
	hb := h.beats[id]
	if hb == nil {
		if len(h.beats) >= maxBeats {
			h.mu.Unlock()
			return false, fmt.Errorf("%w: heartbeats", errTooManyObjs)
		}
		hb = &heartbeat{}
		h.beats[id] = hb
	}
	changed := hb.reg.Merge(&in)
	if changed {
		hb.received = h.clock.now()
	}
	h.mu.Unlock()
	h.clock.observe(ts)
	return changed, nil
}

// setOwn records the encoding of this node's latest heartbeat.
func (h *heartbeats) setOwn(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.own = b
}

// state returns the encoding of replica's latest heartbeat known here: our
// own last beat, or the latest merged from a peer.
func (h *heartbeats) state(replica crdt.ReplicaID) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if replica == h.self {
		return h.own, h.own != nil
	}
	hb := h.beats[replica]
	if hb == nil {
		return nil, false
	}
	b, err := hb.reg.MarshalBinary()
	return b, err == nil
}

// staleness returns how old the latest heartbeat from replica is here, or
// -1 if none arrived.
func (h *heartbeats) staleness(replica string, now time.Time) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	hb := h.beats[crdt.ReplicaID(replica)]
	if hb == nil {
		return -1
	}
	wall, _ := hb.reg.Value()
	return max(0, now.Sub(time.Unix(0, wall)).Seconds())
}

// clockAhead reports how far this node's clock runs ahead of its peers, as
// the youngest age here of the peers' recent heartbeats (a heartbeat carries
// its origin's wall time). It is only known when a peer's heartbeat arrived
// within fresh of now. If even the closest peer's fresh heartbeat looks
// older than the drift limit, our clock is too far ahead: peers would
// reject what we write.
func (h *heartbeats) clockAhead(now time.Time, fresh time.Duration) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	best, known := time.Duration(0), false
	for id, hb := range h.beats {
		if id == h.self || now.Sub(hb.received) > fresh {
			continue
		}
		wall, _ := hb.reg.Value()
		if age := now.Sub(time.Unix(0, wall)); !known || age < best {
			best, known = age, true
		}
	}
	return best, known
}
