package crdt_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

func TestHLCMonotonic(t *testing.T) {
	c := mustClock(t, "a")
	// Physical time jumps backwards (NTP step) and stalls: readings still
	// increase.
	phys := []time.Duration{0, 5, 5, 3, -100, 6, 6, 7}
	var prev crdt.Timestamp
	for i, p := range phys {
		ts := c.Now(t0.Add(p * time.Millisecond))
		if i > 0 && !ts.After(prev) {
			t.Fatalf("reading %d at %v: got %v, want after %v", i, p, ts, prev)
		}
		if ts.Replica != "a" {
			t.Fatalf("got replica %q, want a", ts.Replica)
		}
		prev = ts
	}
	if got, want := prev.Wall, t0.Add(7*time.Millisecond).UnixNano(); got != want {
		t.Errorf("clock did not follow physical time forward: got wall %d, want %d", got, want)
	}
	if got := c.Last(); got != prev {
		t.Errorf("Last: got %v, want %v", got, prev)
	}
}

func TestHLCObserve(t *testing.T) {
	tests := []struct {
		name   string
		local  time.Duration // physical time of the local reading
		remote crdt.Timestamp
		now    time.Duration // physical time of the next reading
	}{
		{"remote ahead", 0, crdt.Timestamp{Wall: t0.Add(time.Second).UnixNano(), Logical: 3, Replica: "b"}, 0},
		{"remote same wall, higher logical", 0, crdt.Timestamp{Wall: t0.UnixNano(), Logical: 7, Replica: "b"}, 0},
		{"remote same wall and logical, greater replica", 0, crdt.Timestamp{Wall: t0.UnixNano(), Logical: 0, Replica: "z"}, 0},
		{"remote behind", time.Second, crdt.Timestamp{Wall: t0.UnixNano(), Logical: 9, Replica: "b"}, time.Second},
		{"physical catches up", 0, crdt.Timestamp{Wall: t0.Add(time.Millisecond).UnixNano(), Replica: "b"}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustClock(t, "m")
			local := c.Now(t0.Add(tt.local))
			c.Observe(tt.remote)
			next := c.Now(t0.Add(tt.now))
			if !next.After(tt.remote) || !next.After(local) {
				t.Errorf("after Observe(%v): got %v, want after %v and %v", tt.remote, next, tt.remote, local)
			}
		})
	}
}

func TestHLCLogicalOverflowCarries(t *testing.T) {
	c := mustClock(t, "a")
	w := t0.UnixNano()
	c.Restore(crdt.Timestamp{Wall: w, Logical: math.MaxUint32 - 1, Replica: "x"})
	a := c.Now(t0)
	b := c.Now(t0)
	if a.Logical != math.MaxUint32 || a.Wall != w {
		t.Fatalf("got %v, want logical %d at wall %d", a, uint32(math.MaxUint32), w)
	}
	if b.Wall != w+1 || b.Logical != 0 {
		t.Fatalf("got %v, want the counter to carry into wall %d", b, w+1)
	}
	if !b.After(a) {
		t.Fatalf("got %v, want after %v", b, a)
	}
}

func TestNewHLCInvalid(t *testing.T) {
	if _, err := crdt.NewHLC(""); !errors.Is(err, crdt.ErrInvalidReplicaID) {
		t.Errorf("NewHLC(\"\"): got %v, want ErrInvalidReplicaID", err)
	}
}

func TestCheckDrift(t *testing.T) {
	const maxDrift = 500 * time.Millisecond
	tests := []struct {
		ahead time.Duration
		ok    bool
	}{
		{-time.Hour, true},
		{0, true},
		{maxDrift, true},
		{maxDrift + 1, false},
		{time.Hour, false},
	}
	for _, tt := range tests {
		remote := crdt.Timestamp{Wall: t0.Add(tt.ahead).UnixNano(), Replica: "b"}
		err := crdt.CheckDrift(remote, t0, maxDrift)
		if (err == nil) != tt.ok {
			t.Errorf("CheckDrift(%v ahead): got %v, want ok=%v", tt.ahead, err, tt.ok)
			continue
		}
		if tt.ok {
			continue
		}
		var de *crdt.DriftError
		if !errors.As(err, &de) {
			t.Fatalf("CheckDrift(%v ahead): got %T, want *DriftError", tt.ahead, err)
		}
		if de.Ahead != tt.ahead || de.MaxDrift != maxDrift || de.Remote != remote {
			t.Errorf("got %+v, want Ahead %v, MaxDrift %v", de, tt.ahead, maxDrift)
		}
		if !strings.Contains(err.Error(), "ahead of local time") {
			t.Errorf("got message %q", err)
		}
	}
}

func TestTimestampOrder(t *testing.T) {
	ts := []crdt.Timestamp{
		{},
		{Wall: 1, Logical: 0, Replica: "b"},
		{Wall: 1, Logical: 1, Replica: "a"},
		{Wall: 1, Logical: 1, Replica: "b"},
		{Wall: 2, Logical: 0, Replica: "a"},
	}
	for i := range ts {
		for j := range ts {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := ts[i].Compare(ts[j]); got != want {
				t.Errorf("%v.Compare(%v): got %d, want %d", ts[i], ts[j], got, want)
			}
		}
	}
	if !ts[0].IsZero() || ts[1].IsZero() {
		t.Error("IsZero wrong")
	}
	if got, want := ts[3].String(), "1.1@b"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
	if got := (crdt.Timestamp{Wall: t0.UnixNano()}).Time(); !got.Equal(t0) {
		t.Errorf("Time: got %v, want %v", got, t0)
	}
}
