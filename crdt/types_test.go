package crdt_test

import (
	"fmt"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/crdt/crdttest"
)

// This file describes each CRDT of the package to the conformance kit: how
// to build one, which operations a replica may apply, and the codec. The law
// tests, the fuzz seeds and the benchmarks share these descriptions.

// amount is a DotFun payload: the value an update carried, like the
// increments and assignments of a cart line.
type amount int64

func (a amount) EncodePayload(e *crdt.Encoder) { e.Int(int64(a)) }

func (amount) DecodePayload(r *crdt.Reader) (amount, error) {
	n, err := r.Int()
	return amount(n), err
}

// lineMap is an ORMap whose values are DotFuns of amounts: a key's value is
// the sum of the amounts of its surviving dots.
type lineMap = crdt.ORMap[string, crdt.DotFun[amount]]

// elements are the keys the generators draw. Half the draws pick one of
// the first three, so that adds and removes of the same element collide
// often; the others spread over all sixteen, so that maps grow past four
// keys per dot of an incoming delta's context, where ORMap.Merge takes its
// indexed path for small deltas (with three keys it never runs).
var elements = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"}

func drawElem(t *rapid.T) string {
	if rapid.Bool().Draw(t, "hot") {
		return rapid.SampledFrom(elements[:3]).Draw(t, "elem")
	}
	return rapid.SampledFrom(elements).Draw(t, "elem")
}

func gcounterType() crdttest.Type[*crdt.GCounter] {
	return crdttest.Type[*crdt.GCounter]{
		New: func() *crdt.GCounter { return &crdt.GCounter{} },
		Op: func(t *rapid.T, s *crdt.GCounter, r crdttest.Replica) (*crdt.GCounter, bool) {
			n := rapid.Uint64Range(1, 10).Draw(t, "n")
			if rapid.IntRange(0, 19).Draw(t, "huge") == 0 {
				n = 1 << 63 // exercises the overflow refusal
			}
			before := s.Clone()
			d, err := s.Inc(r.ID, n)
			if err != nil {
				if !s.Equal(before) {
					t.Fatalf("refused inc changed the counter")
				}
				return nil, false
			}
			return d, true
		},
		Merge: func(dst, src *crdt.GCounter) bool { return dst.Merge(src) },
		Clone: (*crdt.GCounter).Clone,
		Equal: (*crdt.GCounter).Equal,
		Marshal: func(s *crdt.GCounter) ([]byte, error) {
			return s.MarshalBinary()
		},
		Unmarshal: func(b []byte) (*crdt.GCounter, error) {
			s := &crdt.GCounter{}
			return s, s.UnmarshalBinary(b)
		},
	}
}

func pncounterType() crdttest.Type[*crdt.PNCounter] {
	return crdttest.Type[*crdt.PNCounter]{
		New: func() *crdt.PNCounter { return &crdt.PNCounter{} },
		Op: func(t *rapid.T, s *crdt.PNCounter, r crdttest.Replica) (*crdt.PNCounter, bool) {
			n := rapid.Uint64Range(1, 10).Draw(t, "n")
			if rapid.IntRange(0, 19).Draw(t, "huge") == 0 {
				n = 1 << 62
			}
			before := s.Clone()
			var d *crdt.PNCounter
			var err error
			if rapid.Bool().Draw(t, "inc") {
				d, err = s.Inc(r.ID, n)
			} else {
				d, err = s.Dec(r.ID, n)
			}
			if err != nil {
				if !s.Equal(before) {
					t.Fatalf("refused op changed the counter")
				}
				return nil, false
			}
			return d, true
		},
		Merge: func(dst, src *crdt.PNCounter) bool { return dst.Merge(src) },
		Clone: (*crdt.PNCounter).Clone,
		Equal: (*crdt.PNCounter).Equal,
		Marshal: func(s *crdt.PNCounter) ([]byte, error) {
			return s.MarshalBinary()
		},
		Unmarshal: func(b []byte) (*crdt.PNCounter, error) {
			s := &crdt.PNCounter{}
			return s, s.UnmarshalBinary(b)
		},
	}
}

func lwwType() crdttest.Type[*crdt.LWWRegister[string]] {
	return crdttest.Type[*crdt.LWWRegister[string]]{
		New: func() *crdt.LWWRegister[string] { return &crdt.LWWRegister[string]{} },
		Op: func(t *rapid.T, s *crdt.LWWRegister[string], r crdttest.Replica) (*crdt.LWWRegister[string], bool) {
			// A replica observes the write it holds before writing, as a
			// real one does on merge, so its own write wins locally.
			if ts := s.Timestamp(); !ts.IsZero() {
				r.Clock.Observe(ts)
			}
			v := rapid.SampledFrom([]string{"x", "y", "z", ""}).Draw(t, "value")
			d := s.Set(r.Clock.Now(r.Now), v)
			if got, _ := s.Value(); got != v {
				t.Fatalf("after local write got %q, want %q", got, v)
			}
			return d, true
		},
		Merge: func(dst, src *crdt.LWWRegister[string]) bool { return dst.Merge(src) },
		Clone: (*crdt.LWWRegister[string]).Clone,
		Equal: (*crdt.LWWRegister[string]).Equal,
		Marshal: func(s *crdt.LWWRegister[string]) ([]byte, error) {
			return s.MarshalBinary()
		},
		Unmarshal: func(b []byte) (*crdt.LWWRegister[string], error) {
			s := &crdt.LWWRegister[string]{}
			return s, s.UnmarshalBinary(b)
		},
	}
}

func orsetType() crdttest.Type[*crdt.ORSet[string]] {
	return crdttest.Type[*crdt.ORSet[string]]{
		New: func() *crdt.ORSet[string] { return &crdt.ORSet[string]{} },
		Op: func(t *rapid.T, s *crdt.ORSet[string], r crdttest.Replica) (*crdt.ORSet[string], bool) {
			e := drawElem(t)
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0, 1, 2, 3, 4, 5:
				d := noErr(s.Add(r.ID, e))
				if !s.Contains(e) {
					t.Fatalf("after Add(%q): Contains = false, want true", e)
				}
				return d, true
			case 6, 7, 8:
				d := s.Remove(e)
				if s.Contains(e) {
					t.Fatalf("after Remove(%q): Contains = true, want false", e)
				}
				return d, true
			default:
				d := s.Clear()
				if s.Len() != 0 {
					t.Fatalf("after Clear: Len = %d, want 0", s.Len())
				}
				return d, true
			}
		},
		Merge: func(dst, src *crdt.ORSet[string]) bool { return dst.Merge(src) },
		Clone: (*crdt.ORSet[string]).Clone,
		Equal: (*crdt.ORSet[string]).Equal,
		Marshal: func(s *crdt.ORSet[string]) ([]byte, error) {
			return s.MarshalBinary()
		},
		Unmarshal: func(b []byte) (*crdt.ORSet[string], error) {
			s := &crdt.ORSet[string]{}
			return s, s.UnmarshalBinary(b)
		},
		Check: func(t *rapid.T, s *crdt.ORSet[string]) {
			if got := len(s.Elements()); got != s.Len() {
				t.Fatalf("len(Elements()) = %d, want Len() = %d", got, s.Len())
			}
		},
	}
}

// lineAdd adds n to key k: a new dot carrying n, superseding nothing, so
// concurrent adds accumulate.
func lineAdd(m *lineMap, id crdt.ReplicaID, k string, n amount) *lineMap {
	return noErr(m.Update(id, k, func(_ crdt.DotFun[amount], next func() crdt.Dot) crdt.Mutation[crdt.DotFun[amount]] {
		var mu crdt.Mutation[crdt.DotFun[amount]]
		mu.Add.Set(next(), n)
		return mu
	}))
}

// lineSet sets key k to n: a new dot carrying n that supersedes every dot
// the replica has seen under k.
func lineSet(m *lineMap, id crdt.ReplicaID, k string, n amount) *lineMap {
	return noErr(m.Update(id, k, func(cur crdt.DotFun[amount], next func() crdt.Dot) crdt.Mutation[crdt.DotFun[amount]] {
		var mu crdt.Mutation[crdt.DotFun[amount]]
		for d := range cur.EachDot {
			mu.Supersede = append(mu.Supersede, d)
		}
		mu.Add.Set(next(), n)
		return mu
	}))
}

// lineValue sums the amounts under k.
func lineValue(m *lineMap, k string) amount {
	var sum amount
	m.Peek(k, func(f crdt.DotFun[amount]) {
		for _, v := range f.All {
			sum += v
		}
	})
	return sum
}

func ormapType() crdttest.Type[*lineMap] {
	return crdttest.Type[*lineMap]{
		New: func() *lineMap { return &lineMap{} },
		Op: func(t *rapid.T, m *lineMap, r crdttest.Replica) (*lineMap, bool) {
			k := drawElem(t)
			n := amount(rapid.IntRange(1, 5).Draw(t, "n"))
			// Adds and sets grow the map, removes take keys away; a clear,
			// which empties it, is rare so that maps reach several keys.
			// Sets, which fold a key's dots into one, outnumber adds, so
			// that most removes carry a small context. (rapid draws small
			// numbers most often: the likeliest operation comes first.)
			switch op := rapid.IntRange(0, 19).Draw(t, "op"); {
			case op < 8:
				d := lineSet(m, r.ID, k, n)
				if got := lineValue(m, k); got != n {
					t.Fatalf("after set(%q, %d): value %d, want %d", k, n, got, n)
				}
				return d, true
			case op < 14:
				before := lineValue(m, k)
				d := lineAdd(m, r.ID, k, n)
				if got := lineValue(m, k); got != before+n {
					t.Fatalf("after add(%q, %d): value %d, want %d", k, n, got, before+n)
				}
				return d, true
			case op < 19:
				d := m.Remove(k)
				if m.Has(k) {
					t.Fatalf("after Remove(%q): Has = true, want false", k)
				}
				return d, true
			default:
				d := m.Clear()
				if m.Len() != 0 {
					t.Fatalf("after Clear: Len = %d, want 0", m.Len())
				}
				return d, true
			}
		},
		Merge: func(dst, src *lineMap) bool { return dst.Merge(src) },
		Clone: (*lineMap).Clone,
		Equal: (*lineMap).Equal,
		Marshal: func(m *lineMap) ([]byte, error) {
			return m.MarshalBinary()
		},
		Unmarshal: func(b []byte) (*lineMap, error) {
			m := &lineMap{}
			return m, m.UnmarshalBinary(b)
		},
		Check: func(t *rapid.T, m *lineMap) {
			ctx := m.Context()
			for _, k := range m.Keys() {
				m.Peek(k, func(f crdt.DotFun[amount]) {
					if f.Len() == 0 {
						t.Fatalf("key %q present with an empty store", k)
					}
					for d := range f.EachDot {
						if !ctx.Contains(d) {
							t.Fatalf("dot %v under %q missing from the context", d, k)
						}
					}
				})
			}
		},
	}
}

// rid returns the fixed replica ID "r<i>" used throughout the tests.
func rid(i int) crdt.ReplicaID { return crdt.ReplicaID(fmt.Sprintf("r%d", i)) }
