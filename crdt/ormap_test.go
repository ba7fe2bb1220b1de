package crdt_test

import (
	"fmt"
	"testing"

	"github.com/crdtd/crdtd/crdt"
)

// TestORMapResetRemove walks the reset-remove semantics: a remove drops
// what it saw; a concurrent update survives with only its own effect.
func TestORMapResetRemove(t *testing.T) {
	var phone, laptop lineMap
	laptop.Merge(lineAdd(&phone, "phone", "apple", 3))
	rm := phone.Remove("apple")
	add := lineAdd(&laptop, "laptop", "apple", 1) // concurrent with the remove
	phone.Merge(add)
	laptop.Merge(rm)
	for name, m := range map[string]*lineMap{"phone": &phone, "laptop": &laptop} {
		if got := lineValue(m, "apple"); got != 1 {
			t.Errorf("%s: got %d apples, want 1 (the unseen add only, nothing resurrected)", name, got)
		}
	}
	if !phone.Equal(&laptop) {
		t.Error("replicas differ")
	}
	// Removing an absent key is a no-op with an empty delta.
	d := phone.Remove("pear")
	var empty lineMap
	if !d.Equal(&empty) {
		t.Error("Remove of an absent key returned a non-empty delta")
	}
	// Clear on one side while the other adds a new key: the new key stays.
	clear := phone.Clear()
	add2 := lineAdd(&laptop, "laptop", "kiwi", 2)
	phone.Merge(add2)
	laptop.Merge(clear)
	for name, m := range map[string]*lineMap{"phone": &phone, "laptop": &laptop} {
		if got := fmt.Sprint(m.Keys(), lineValue(m, "kiwi")); got != "[kiwi] 2" {
			t.Errorf("%s: got %s, want [kiwi] 2", name, got)
		}
	}
}

func TestORMapAccessorsCopy(t *testing.T) {
	var m lineMap
	lineAdd(&m, "a", "k", 1)
	f, ok := m.Get("k")
	if !ok || f.Len() != 1 {
		t.Fatalf("Get(k): got %d entries, %v, want 1, true", f.Len(), ok)
	}
	f.Set(crdt.Dot{Replica: "z", Seq: 1}, 100)
	if got := lineValue(&m, "k"); got != 1 {
		t.Errorf("modifying Get's result changed the map: got %d, want 1", got)
	}
	if _, ok := m.Get("missing"); ok {
		t.Error("Get(missing) reported present")
	}
	if m.Peek("missing", func(crdt.DotFun[amount]) { t.Error("Peek called fn for a missing key") }) {
		t.Error("Peek(missing) reported present")
	}
	ctx := m.Context()
	ctx.Add(crdt.Dot{Replica: "z", Seq: 1})
	if m.Contains(crdt.Dot{Replica: "z", Seq: 1}) {
		t.Error("modifying Context's result changed the map")
	}
	if !m.Contains(crdt.Dot{Replica: "a", Seq: 1}) {
		t.Error("Contains(a:1) = false, want true")
	}
	if d, ok := f.Get(crdt.Dot{Replica: "a", Seq: 1}); !ok || d != 1 {
		t.Errorf("DotFun.Get: got %d, %v, want 1, true", d, ok)
	}
}

func TestORMapUpdateForeignDotPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Update adding a dot not minted by next: got no panic, want one")
		}
	}()
	var m lineMap
	m.Update("a", "k", func(_ crdt.DotFun[amount], _ func() crdt.Dot) crdt.Mutation[crdt.DotFun[amount]] {
		var mu crdt.Mutation[crdt.DotFun[amount]]
		mu.Add.Set(crdt.Dot{Replica: "b", Seq: 1}, 1)
		return mu
	})
}

func TestDotSet(t *testing.T) {
	var s crdt.DotSet
	d := crdt.Dot{Replica: "a", Seq: 1}
	if s.Has(d) || !s.IsEmpty() || s.Len() != 0 {
		t.Fatal("zero DotSet not empty")
	}
	s.Add(d)
	s.Add(crdt.Dot{Replica: "a", Seq: 2})
	c := s.Clone()
	c.Add(crdt.Dot{Replica: "b", Seq: 1})
	if s.Len() != 2 || c.Len() != 3 || !s.Has(d) {
		t.Errorf("got lens %d and %d, want 2 and 3", s.Len(), c.Len())
	}
	if s.Equal(c) || !s.Equal(s.Clone()) {
		t.Error("Equal wrong")
	}
	n := 0
	for range s.EachDot {
		n++
		break
	}
	if n != 1 {
		t.Errorf("EachDot did not stop: got %d calls", n)
	}
	var f crdt.DotFun[amount]
	f.Set(d, 1)
	f.Set(crdt.Dot{Replica: "a", Seq: 2}, 2)
	n = 0
	for range f.All {
		n++
		break
	}
	for range f.EachDot {
		n++
		break
	}
	if n != 2 {
		t.Errorf("All/EachDot did not stop: got %d calls", n)
	}
	var ef crdt.DotFun[amount]
	if !ef.Clone().IsEmpty() {
		t.Error("Clone of empty DotFun not empty")
	}
}

// TestORSetIntKeys exercises the integer key encodings.
func TestORSetIntKeys(t *testing.T) {
	var a crdt.ORSet[int]
	a.Add("a", -1)
	a.Add("a", 1<<40)
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got crdt.ORSet[int]
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Elements()) != "[-1 1099511627776]" || !got.Equal(&a) {
		t.Errorf("got %v, want [-1 1099511627776]", got.Elements())
	}
	ctx := got.Context()
	if !ctx.Contains(crdt.Dot{Replica: "a", Seq: 2}) {
		t.Error("Context lacks a:2")
	}
}
