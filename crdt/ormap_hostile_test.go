package crdt_test

import (
	"testing"

	"github.com/crdtd/crdtd/crdt"
)

// TestORMapMergeHugeContext merges a decoded state whose version vector
// entries sum past 2^64 into a large set. Merge must see that the context is
// large (and visit the keys) rather than wrap the count around and try to
// enumerate its dots one by one.
func TestORMapMergeHugeContext(t *testing.T) {
	in := wire(t, list{list{list{"a", 5}, list{"b", uint64(1<<64 - 3)}}, list{}})
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
