package daemon

import (
	"testing"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// TestHeartbeatOfUnknownReplicaRefused: beats of replicas no member's
// metadata names are refused and counted, so a peer cannot fill the table
// with invented replicas; a member's beat is taken.
func TestHeartbeatOfUnknownReplicaRefused(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	hlc, err := crdt.NewHLC("node-a")
	if err != nil {
		t.Fatal(err)
	}
	clock := newNodeClock(hlc, 0, time.Minute, m.rejected)
	h := newHeartbeats("node-a", clock, m, func(r crdt.ReplicaID) bool { return r == "node-b" })
	beat := func(r crdt.ReplicaID) []byte {
		peer, err := crdt.NewHLC(r)
		if err != nil {
			t.Fatal(err)
		}
		ts := peer.Now(time.Now())
		var reg crdt.LWWRegister[int64]
		b, err := reg.Set(ts, ts.Wall).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := h.merge("node-b", beat("node-b")); err != nil {
		t.Fatalf("beat of a member: got %v, want nil", err)
	}
	if _, err := h.merge("invented", beat("invented")); err == nil {
		t.Error("beat of a replica no member names: got nil error")
	}
	if changed, err := h.merge("node-a", beat("node-a")); changed || err != nil {
		t.Errorf("our own beat relayed back: got %v, %v; want false, nil", changed, err)
	}
	if _, ok := h.state("invented"); ok {
		t.Error("the table keeps a beat of an invented replica")
	}
}
