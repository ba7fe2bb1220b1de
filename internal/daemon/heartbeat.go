package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// The consistency monitor: every node bumps its own heartbeat object every
// HeartbeatInterval and gossips it like any delta. Every node records when
// each peer's latest beat was made; the age of that beat here is how stale
// our view of that peer is, measured continuously (DESIGN §9).

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
	d.gossip.Publish(heartbeatPrefix+string(d.replica), b, ts.Time())
}

func (d *Daemon) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		d.beat()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
