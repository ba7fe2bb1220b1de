package crdt_test

import (
	"errors"
	"testing"

	"github.com/crdtd/crdtd/crdt"
)

// TestORMapMergeHugeContext merges a decoded state whose version vector
// entries sum past 2^64 (four replicas at crdt.MaxSeq) into a large set.
// Merge must see that the context is large (and visit the keys) rather than
// wrap the count around and try to enumerate its dots one by one.
func TestORMapMergeHugeContext(t *testing.T) {
	in := wire(t, list{list{list{"a", 5}, list{"b", crdt.MaxSeq}, list{"c", crdt.MaxSeq},
		list{"d", crdt.MaxSeq}, list{"e", crdt.MaxSeq}}, list{}})
	var hostile crdt.ORSet[string]
	if err := hostile.UnmarshalBinary(in); err != nil {
		t.Fatalf("UnmarshalBinary(%x): %v", in, err)
	}
	var s crdt.ORSet[int]
	for i := range 100 {
		s.Add("a", i)
	}
	var h crdt.ORSet[int]
	b, _ := hostile.MarshalBinary()
	if err := h.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	s.Merge(&h)
	if s.Len() != 95 {
		t.Errorf("got %d elements, want 95: the context covers the adds a:1..a:5", s.Len())
	}
}

// TestDecodeRejectsSeqBeyondMax: a context or dot claiming a sequence number
// beyond crdt.MaxSeq is refused, so no state from outside can carry a
// replica's counter to where its next dot would wrap.
func TestDecodeRejectsSeqBeyondMax(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"vector at MaxSeq", wire(t, list{list{list{"a", crdt.MaxSeq}}, list{}}), true},
		{"vector beyond MaxSeq", wire(t, list{list{list{"a", crdt.MaxSeq + 1}}, list{}}), false},
		{"vector at 2^64-1", wire(t, list{list{list{"a", uint64(1<<64 - 1)}}, list{}}), false},
		{"cloud beyond MaxSeq", wire(t, list{list{list{"a", 1, crdt.MaxSeq + 1}}, list{}}), false},
	} {
		var s crdt.ORSet[string]
		err := s.UnmarshalBinary(tc.in)
		if tc.ok && err != nil {
			t.Errorf("%s: got %v, want nil", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, crdt.ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", tc.name, err)
		}
	}
}

// TestMintingPastMaxSeqFails: a replica whose context reached crdt.MaxSeq
// (here through a merge) gets ErrSeqExhausted from every mutator that mints
// a dot, and nothing changes: a counter never wraps.
func TestMintingPastMaxSeqFails(t *testing.T) {
	var at crdt.ORSet[string]
	if err := at.UnmarshalBinary(wire(t, list{list{list{"a", crdt.MaxSeq}}, list{}})); err != nil {
		t.Fatal(err)
	}
	var s crdt.ORSet[string]
	if _, err := s.Add("a", "x"); err != nil {
		t.Fatal(err)
	}
	s.Merge(&at)
	before := s.Clone()
	if d, err := s.Add("a", "y"); !errors.Is(err, crdt.ErrSeqExhausted) || d != nil {
		t.Fatalf("Add past MaxSeq: got %v, %v; want nil, ErrSeqExhausted", d, err)
	}
	if !s.Equal(before) {
		t.Fatal("a failed Add changed the set")
	}
	if _, err := s.Add("b", "y"); err != nil {
		t.Fatalf("another replica's Add: %v", err)
	}
	var c crdt.CausalContext
	c.Add(crdt.Dot{Replica: "a", Seq: crdt.MaxSeq})
	if _, err := c.Next("a"); !errors.Is(err, crdt.ErrSeqExhausted) {
		t.Fatalf("Next past MaxSeq: got %v, want ErrSeqExhausted", err)
	}
	if got := c.Max("a"); got != crdt.MaxSeq {
		t.Fatalf("a failed Next moved the context to %d", got)
	}
}
