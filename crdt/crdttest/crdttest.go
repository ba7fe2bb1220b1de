// Package crdttest is a conformance kit for state-based CRDTs, in the style
// of testing/fstest: given how to build, mutate, merge, copy, compare and
// encode a type, it checks the lattice laws on states reached by real
// operations from several replicas.
//
// The laws checked are those that make Merge a join of a join-semilattice
// (commutative, associative, idempotent, inflationary), that make deltas
// interchangeable with full states (Almeida et al. 2018, "delta-state
// decomposition"), and that make the codec faithful and canonical.
//
// States are never filled in at random: the kit simulates a small system of
// replicas applying random operations and exchanging deltas and full states
// (out of order, duplicated, some lost), and draws the states it checks from
// that run, so only reachable states count.
package crdttest

import (
	"fmt"
	"time"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt"
)

// Replica is the identity and clock of one simulated replica, handed to
// [Type.Op].
type Replica struct {
	ID crdt.ReplicaID
	// Clock is the replica's hybrid logical clock. Op takes timestamps from
	// it with Clock.Now(Now).
	Clock *crdt.HLC
	// Now is the simulated physical time of this step. It advances between
	// steps, sometimes by zero, and differs between replicas (skew).
	Now time.Time
}

// Type describes a CRDT of state type S (usually a pointer) to the kit.
type Type[S any] struct {
	// New returns an empty state.
	New func() S
	// Op applies one random operation, drawn from t, at replica r to s, and
	// returns its delta. It must not fail the test for an operation that
	// is legitimately refused (an overflow, say): it returns a zero delta
	// and ok=false.
	Op func(t *rapid.T, s S, r Replica) (delta S, ok bool)
	// Merge joins src into dst and reports whether dst changed.
	Merge func(dst, src S) bool
	// Clone deep-copies a state.
	Clone func(S) S
	// Equal compares two states.
	Equal func(a, b S) bool
	// Marshal and Unmarshal are the codec.
	Marshal   func(S) ([]byte, error)
	Unmarshal func([]byte) (S, error)
	// Check, if set, verifies a type's local invariants on every state the
	// simulation reaches (for instance, no negative quantities).
	Check func(t *rapid.T, s S)
}

// System is a simulated run: the replicas' final states, every snapshot
// taken along the way and every delta produced.
type System[S any] struct {
	Replicas  []S
	Snapshots []S
	Deltas    []S
	Clocks    []Replica
}

// minSteps is the fewest steps a simulated run takes. rapid draws small
// numbers far more often than large ones (half of IntRange(0, 40) falls
// below 10), and a run of a few steps rarely lets a remove see an add and
// reach another replica: the shortest runs would check the laws on states
// with nothing removed.
const minSteps = 20

// Simulate draws a random run of 2 to 4 replicas and returns it. Tests use it
// to build states for their own properties.
func Simulate[S any](t *rapid.T, ty Type[S]) *System[S] {
	n := rapid.IntRange(2, 4).Draw(t, "replicas")
	sys := &System[S]{}
	base := time.Unix(1_700_000_000, 0)
	now := make([]time.Time, n)
	for i := range n {
		id := crdt.ReplicaID(fmt.Sprintf("r%d", i))
		clk, err := crdt.NewHLC(id)
		if err != nil {
			t.Fatalf("new hlc: %v", err)
		}
		sys.Replicas = append(sys.Replicas, ty.New())
		sys.Clocks = append(sys.Clocks, Replica{ID: id, Clock: clk})
		now[i] = base.Add(time.Duration(rapid.IntRange(-5, 5).Draw(t, "skew")) * time.Millisecond)
	}
	steps := rapid.IntRange(minSteps, 60).Draw(t, "steps")
	for range steps {
		i := rapid.IntRange(0, n-1).Draw(t, "replica")
		switch rapid.IntRange(0, 9).Draw(t, "action") {
		case 0, 1, 2, 3:
			now[i] = now[i].Add(time.Duration(rapid.IntRange(0, 3).Draw(t, "tick")) * time.Millisecond)
			r := sys.Clocks[i]
			r.Now = now[i]
			if d, ok := ty.Op(t, sys.Replicas[i], r); ok {
				sys.Deltas = append(sys.Deltas, ty.Clone(d))
				if rapid.Bool().Draw(t, "broadcast") {
					// Gossip: the delta reaches every other replica at once,
					// so later operations there see this one.
					for j := range sys.Replicas {
						if j != i {
							ty.Merge(sys.Replicas[j], d)
							if ty.Check != nil {
								ty.Check(t, sys.Replicas[j])
							}
						}
					}
				}
			}
		case 4, 5, 6:
			if len(sys.Deltas) > 0 {
				d := rapid.SampledFrom(sys.Deltas).Draw(t, "delta")
				ty.Merge(sys.Replicas[i], d)
			}
		case 7:
			j := rapid.IntRange(0, n-1).Draw(t, "from")
			ty.Merge(sys.Replicas[i], sys.Replicas[j])
		default:
			sys.Snapshots = append(sys.Snapshots, ty.Clone(sys.Replicas[i]))
		}
		if ty.Check != nil {
			ty.Check(t, sys.Replicas[i])
		}
	}
	return sys
}

// draw picks a state from the run: a replica's final state, a snapshot, or
// a delta (deltas are states too).
func (s *System[S]) draw(t *rapid.T, ty Type[S], label string) S {
	pool := append(append(append([]S{}, s.Replicas...), s.Snapshots...), s.Deltas...)
	return ty.Clone(rapid.SampledFrom(pool).Draw(t, label))
}

func join[S any](ty Type[S], a, b S) S {
	out := ty.Clone(a)
	ty.Merge(out, b)
	return out
}

func mustEqual[S any](t *rapid.T, ty Type[S], got, want S, law string) {
	t.Helper()
	if !ty.Equal(got, want) {
		gb, _ := ty.Marshal(got)
		wb, _ := ty.Marshal(want)
		t.Fatalf("%s: got %x, want %x", law, gb, wb)
	}
}
