package crdt_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/crdt"
)

func TestParseReplicaID(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"a", true},
		{"node-1", true},
		{"Z9._:@-", true},
		{"7f3e1c2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b", true},
		{strings.Repeat("x", crdt.MaxReplicaIDLen), true},
		{"", false},
		{strings.Repeat("x", crdt.MaxReplicaIDLen+1), false},
		{"a b", false},
		{"a/b", false},
		{"ä", false},
		{"a\x00", false},
		{"a\n", false},
	}
	for _, tt := range tests {
		got, err := crdt.ParseReplicaID(tt.in)
		if tt.ok {
			if err != nil || string(got) != tt.in {
				t.Errorf("ParseReplicaID(%q): got %q, %v, want %q, nil", tt.in, got, err, tt.in)
			}
			continue
		}
		if !errors.Is(err, crdt.ErrInvalidReplicaID) {
			t.Errorf("ParseReplicaID(%q): got %v, want ErrInvalidReplicaID", tt.in, err)
		}
	}
}

// TestMutatorRejectsInvalidID checks that mutators panic on an unvalidated
// ReplicaID: passing one is a programming error, and minting a dot that no
// encoding can carry would corrupt every replica it reaches.
func TestMutatorRejectsInvalidID(t *testing.T) {
	mutators := map[string]func(){
		"GCounter.Inc":    func() { var g crdt.GCounter; _, _ = g.Inc("bad id", 1) },
		"PNCounter.Dec":   func() { var p crdt.PNCounter; _, _ = p.Dec("", 1) },
		"LWWRegister.Set": func() { var r crdt.LWWRegister[string]; r.Set(crdt.Timestamp{Wall: 1, Replica: "a b"}, "x") },
		"ORSet.Add":       func() { var s crdt.ORSet[string]; s.Add("", "x") },
		"ORMap.Update":    func() { var m lineMap; lineAdd(&m, "x/y", "k", 1) },
	}
	for name, f := range mutators {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with an invalid replica ID: got no panic, want one", name)
				}
			}()
			f()
		})
	}
}
