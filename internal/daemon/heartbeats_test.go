package daemon

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// TestHeartbeatOfUnknownReplicaRefused: beats of replicas no member's
// metadata names are refused and counted, so a peer cannot fill the table
// with invented replicas; a member's beat is taken.
func TestHeartbeatOfUnknownReplicaRefused(t *testing.T) {
	t.Parallel()
	h := newTestHeartbeats(t, func(r crdt.ReplicaID) bool { return r == "node-b" })
	beat := func(r crdt.ReplicaID) []byte { return beatAt(t, r, time.Now()) }
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

// newTestHeartbeats is node-a's heartbeat table; member decides which
// replicas are members (nil: all).
func newTestHeartbeats(t *testing.T, member func(crdt.ReplicaID) bool) *heartbeats {
	t.Helper()
	m := newMetrics()
	hlc, err := crdt.NewHLC("node-a")
	if err != nil {
		t.Fatal(err)
	}
	return newHeartbeats("node-a", newNodeClock(hlc, 0, time.Minute, m.rejected), m, member)
}

// beatAt encodes a heartbeat of replica r made at wall time at.
func beatAt(t *testing.T, r crdt.ReplicaID, at time.Time) []byte {
	t.Helper()
	peer, err := crdt.NewHLC(r)
	if err != nil {
		t.Fatal(err)
	}
	ts := peer.Now(at)
	var reg crdt.LWWRegister[int64]
	b, err := reg.Set(ts, ts.Wall).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHeartbeatTableBound: the table takes beats of up to maxBeats
// replicas, refuses a new replica beyond, and still takes the known ones'.
func TestHeartbeatTableBound(t *testing.T) {
	t.Parallel()
	h := newTestHeartbeats(t, nil)
	now := time.Now()
	for i := range maxBeats {
		if _, err := h.merge(fmt.Sprintf("r%d", i), beatAt(t, crdt.ReplicaID(fmt.Sprintf("r%d", i)), now)); err != nil {
			t.Fatalf("beat %d of %d: %v", i+1, maxBeats, err)
		}
	}
	if _, err := h.merge("one-more", beatAt(t, "one-more", now)); !errors.Is(err, errTooManyObjs) {
		t.Fatalf("a beat past the bound: got %v, want errTooManyObjs", err)
	}
	if changed, err := h.merge("r0", beatAt(t, "r0", now.Add(time.Millisecond))); !changed || err != nil {
		t.Fatalf("a newer beat of a known replica at the bound: got %v, %v", changed, err)
	}
}

// TestClockAheadFreshBeats: only beats received within fresh count, the
// bound included; the age is the youngest beat's.
func TestClockAheadFreshBeats(t *testing.T) {
	t.Parallel()
	h := newTestHeartbeats(t, nil)
	if _, known := h.clockAhead(time.Now(), time.Second); known {
		t.Fatal("known with no beat")
	}
	made := time.Now().Add(-3 * time.Second).Round(0) // wall time only, as a beat carries
	for _, b := range []struct {
		r  crdt.ReplicaID
		at time.Time
	}{{"node-b", made}, {"node-c", made.Add(-time.Second)}} {
		if _, err := h.merge(string(b.r), beatAt(t, b.r, b.at)); err != nil {
			t.Fatal(err)
		}
	}
	const fresh = time.Minute
	now := h.beats["node-b"].received.Add(time.Second)
	if ahead, known := h.clockAhead(now, fresh); !known || ahead != now.Sub(made) {
		t.Fatalf("ahead %v (known %v), want %v: the younger beat's age", ahead, known, now.Sub(made))
	}

	last := h.beats["node-c"].received // received after node-b's
	if _, known := h.clockAhead(last.Add(fresh), fresh); !known {
		t.Fatal("a beat received exactly fresh ago does not count")
	}
	if _, known := h.clockAhead(last.Add(fresh+time.Nanosecond), fresh); known {
		t.Fatal("beats received longer than fresh ago still count")
	}
}
