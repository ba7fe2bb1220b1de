package crdt_test

import (
	"bytes"
	"errors"
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

// TestORMapIsEmpty: a map is empty until it sees a change, and stays
// non-empty once its keys are removed, since its context remembers them.
func TestORMapIsEmpty(t *testing.T) {
	var m lineMap
	if !m.IsEmpty() {
		t.Error("new map: IsEmpty false, want true")
	}
	lineAdd(&m, "a", "k", 1)
	if m.IsEmpty() {
		t.Error("map with a key: IsEmpty true, want false")
	}
	rm := m.Remove("k") // a delta of context only
	if m.Len() != 0 || m.IsEmpty() {
		t.Errorf("map whose key was removed: Len %d, IsEmpty %v; want 0, false", m.Len(), m.IsEmpty())
	}
	var seen lineMap
	seen.Merge(rm)
	if seen.Len() != 0 || seen.IsEmpty() {
		t.Error("map that merged a remove: IsEmpty true, want false")
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

// TestORMapRemoteRemoveOfOneKeyInMany merges a small delta into a map of
// many keys, which Merge does by its indexed path (it visits only the keys
// holding the delta's dots): a remote remove must take its key away, and a
// remote set must replace the value it saw, exactly as merging the
// remover's full state does.
func TestORMapRemoteRemoveOfOneKeyInMany(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *lineMap) *lineMap
		want map[string]amount // the edited key's value; absent means removed
	}{
		{"remove", func(m *lineMap) *lineMap { return m.Remove("k3") }, map[string]amount{}},
		{"set", func(m *lineMap) *lineMap { return lineSet(m, "laptop", "k3", 7) }, map[string]amount{"k3": 7}},
		{"add", func(m *lineMap) *lineMap { return lineAdd(m, "laptop", "k3", 2) }, map[string]amount{"k3": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var phone, laptop lineMap
			for i := range 8 {
				laptop.Merge(lineAdd(&phone, "phone", fmt.Sprintf("k%d", i), 1))
			}
			delta := tt.edit(&laptop)
			if !crdt.FastMerge(&phone, delta) {
				t.Fatalf("a %s delta into 8 keys does not take the indexed path: the test no longer covers it", tt.name)
			}
			viaFull := phone.Clone()
			viaFull.Merge(&laptop)
			if !phone.Merge(delta) {
				t.Errorf("merging the %s delta reported no change", tt.name)
			}
			for i := range 8 {
				k := fmt.Sprintf("k%d", i)
				want, ok := tt.want[k]
				if k != "k3" {
					want, ok = 1, true
				}
				if got := phone.Has(k); got != ok {
					t.Errorf("after a remote %s: Has(%q) = %v, want %v", tt.name, k, got, ok)
				}
				if got := lineValue(&phone, k); got != want {
					t.Errorf("after a remote %s: %q = %d, want %d", tt.name, k, got, want)
				}
			}
			if !phone.Equal(&laptop) {
				t.Errorf("after a remote %s: the replicas differ", tt.name)
			}
			if !phone.Equal(viaFull) {
				t.Errorf("after a remote %s: merging the delta differs from merging the full state", tt.name)
			}
		})
	}
}

// TestORMapEqualComparesContexts: two maps with the same keys and stores
// but different causal contexts are different states. One has seen a
// remove the other has not, and they merge differently with the same
// remote state, so Equal must tell them apart (gossip skips a merge of
// "equal" states, and digests hash the context too).
func TestORMapEqualComparesContexts(t *testing.T) {
	var fresh, removed lineMap
	lineAdd(&removed, "a", "k", 1)
	removed.Remove("k")
	if removed.Len() != 0 || fresh.Len() != 0 {
		t.Fatalf("got lens %d and %d, want 0 and 0", removed.Len(), fresh.Len())
	}
	if fresh.Equal(&removed) || removed.Equal(&fresh) {
		t.Error("an empty map Equal to one whose context saw an add and its remove")
	}

	var x, y lineMap
	y.Merge(lineAdd(&x, "a", "k", 1))
	lineAdd(&y, "b", "other", 1)
	y.Remove("other") // y's context now holds b:1 as well
	if x.Equal(&y) || y.Equal(&x) {
		t.Error("maps with the same entries but contexts {a:1} and {a:1, b:1} are Equal")
	}
	var xs, ys crdt.ORSet[string]
	ys.Merge(noErr(xs.Add("a", "e")))
	ys.Add("b", "f")
	ys.Remove("f")
	if xs.Equal(&ys) || ys.Equal(&xs) {
		t.Error("sets with the same elements but different contexts are Equal")
	}
	if !x.Equal(x.Clone()) {
		t.Error("a map is not Equal to its clone")
	}
}

// TestDecodeRejectsRepeatedDot: a store that lists one dot twice is not
// canonical (MarshalBinary never writes it) and is refused.
func TestDecodeRejectsRepeatedDot(t *testing.T) {
	var m lineMap
	lineAdd(&m, "a", "k", 1)
	lineAdd(&m, "a", "k", 2)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	first, second := []byte{0x92, 0x00, 0x01}, []byte{0x92, 0x00, 0x02}
	i := bytes.LastIndex(b, second)
	if i < 0 || !bytes.Contains(b[:i], first) {
		t.Fatalf("encoding %x does not hold dots a:1 and a:2 as expected", b)
	}
	bad := append(append(append([]byte(nil), b[:i]...), first...), b[i+len(second):]...)
	var got lineMap
	if err := got.UnmarshalBinary(bad); !errors.Is(err, crdt.ErrCorrupt) {
		t.Errorf("decode of a store listing a:1 twice: got %v, want ErrCorrupt", err)
	}
}

// TestORMapIndexedMergeVisitsEveryDot: the indexed path walks every dot of
// the delta's context, past dots it does not hold and dots of keys the
// delta itself carries, to the keys it must take away.
func TestORMapIndexedMergeVisitsEveryDot(t *testing.T) {
	setup := func() (phone, laptop *lineMap) {
		phone, laptop = &lineMap{}, &lineMap{}
		for i := range 12 {
			laptop.Merge(lineAdd(phone, "phone", fmt.Sprintf("k%02d", i), 1)) // phone:i+1
		}
		return phone, laptop
	}
	t.Run("past a dot it never held", func(t *testing.T) {
		phone, laptop := setup()
		lineAdd(laptop, "laptop", "k03", 1) // laptop:1, never sent
		rm := laptop.Remove("k03")          // context {laptop:1, phone:4}
		if !crdt.FastMerge(phone, rm) {
			t.Fatal("the remove does not take the indexed path")
		}
		phone.Merge(rm)
		if phone.Has("k03") {
			t.Error("k03 kept: the merge stopped at laptop:1, which phone never held")
		}
	})
	t.Run("past a key the delta carries", func(t *testing.T) {
		phone, laptop := setup()
		d := lineSet(laptop, "laptop", "k00", 5) // context {laptop:1, phone:1}, carries k00
		d.Merge(laptop.Remove("k11"))            // context adds phone:12
		if !crdt.FastMerge(phone, d) {
			t.Fatal("the joined delta does not take the indexed path")
		}
		phone.Merge(d)
		if phone.Has("k11") || lineValue(phone, "k00") != 5 {
			t.Errorf("got k11 present %v, k00 = %d; want k11 removed and k00 = 5", phone.Has("k11"), lineValue(phone, "k00"))
		}
	})
}

// TestORMapUpdateSupersedingAnotherKey: an update that (against its
// contract) supersedes a dot of another key leaves the map exactly as
// merging its delta does anywhere else.
func TestORMapUpdateSupersedingAnotherKey(t *testing.T) {
	var m lineMap
	lineAdd(&m, "a", "k1", 1) // a:1
	lineAdd(&m, "a", "k2", 1) // a:2
	before := m.Clone()
	d := noErr(m.Update("a", "k1", func(_ crdt.DotFun[amount], next func() crdt.Dot) crdt.Mutation[crdt.DotFun[amount]] {
		var mu crdt.Mutation[crdt.DotFun[amount]]
		mu.Add.Set(next(), 3)
		mu.Supersede = []crdt.Dot{{Replica: "a", Seq: 2}} // k2's dot
		return mu
	}))
	before.Merge(d)
	if !m.Equal(before) || m.Has("k2") {
		t.Errorf("after an update superseding k2's dot: k2 present %v, equal to merging the delta %v; want false, true", m.Has("k2"), m.Equal(before))
	}
}

// TestORMapEqualComparesStores: with deltas delivered out of order, two
// maps can share their keys and causal context and still hold different
// dots; Equal must see that.
func TestORMapEqualComparesStores(t *testing.T) {
	var a, b, c lineMap
	d1 := lineAdd(&a, "a", "k", 1)
	d2 := lineAdd(&a, "a", "k", 2)
	c.Merge(d1)
	rm := c.Remove("k") // saw a:1 only
	b.Merge(d1)
	b.Merge(rm)
	b.Merge(d2) // b: k holds a:2; a: k holds a:1 and a:2; both contexts {a:1, a:2}
	if a.Equal(&b) || b.Equal(&a) {
		t.Errorf("maps whose k holds {a:1, a:2} and {a:2} are Equal (values %d and %d)", lineValue(&a, "k"), lineValue(&b, "k"))
	}
}
