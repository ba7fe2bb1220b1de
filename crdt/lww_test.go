package crdt_test

import (
	"testing"

	"github.com/crdtd/crdtd/crdt"
)

func TestLWWRegister(t *testing.T) {
	ts := func(wall int64, logical uint32, r crdt.ReplicaID) crdt.Timestamp {
		return crdt.Timestamp{Wall: wall, Logical: logical, Replica: r}
	}
	tests := []struct {
		name string
		a, b crdt.Timestamp
		want string // value after merging both writes, in either order
	}{
		{"later wall wins", ts(2, 0, "a"), ts(1, 9, "b"), "A"},
		{"later logical wins", ts(1, 1, "a"), ts(1, 2, "b"), "B"},
		{"tie broken by replica", ts(1, 1, "b"), ts(1, 1, "a"), "A"},
		{"tie broken by replica, other side", ts(1, 1, "a"), ts(1, 1, "c"), "B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x, y crdt.LWWRegister[string]
			dx := x.Set(tt.a, "A")
			dy := y.Set(tt.b, "B")
			x.Merge(dy)
			y.Merge(dx)
			for _, r := range []*crdt.LWWRegister[string]{&x, &y} {
				if got, ok := r.Value(); !ok || got != tt.want {
					t.Errorf("a=%v b=%v: got %q, want %q", tt.a, tt.b, got, tt.want)
				}
			}
			if !x.Equal(&y) {
				t.Error("replicas differ after exchanging writes")
			}
		})
	}
}

func TestLWWRegisterOlderWrite(t *testing.T) {
	var r crdt.LWWRegister[int]
	if _, ok := r.Value(); ok {
		t.Fatal("new register reports a value")
	}
	r.Set(crdt.Timestamp{Wall: 10, Replica: "a"}, 1)
	d := r.Set(crdt.Timestamp{Wall: 5, Replica: "a"}, 2) // stale write
	if got, _ := r.Value(); got != 1 {
		t.Errorf("after a stale write: got %d, want 1", got)
	}
	if r.Merge(d) {
		t.Error("merging a stale write reported a change")
	}
	c := r.Clone()
	c.Set(crdt.Timestamp{Wall: 11, Replica: "a"}, 3)
	if got, _ := r.Value(); got != 1 {
		t.Errorf("Clone shares state: got %d, want 1", got)
	}
	if got := c.Timestamp(); got.Wall != 11 {
		t.Errorf("Timestamp: got %v, want wall 11", got)
	}
}
