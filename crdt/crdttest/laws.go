package crdttest

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

// Run checks every law on ty, each as a subtest.
func Run[S any](t *testing.T, ty Type[S]) {
	t.Run("Commutative", func(t *testing.T) { TestCommutative(t, ty) })
	t.Run("Associative", func(t *testing.T) { TestAssociative(t, ty) })
	t.Run("Idempotent", func(t *testing.T) { TestIdempotent(t, ty) })
	t.Run("Inflationary", func(t *testing.T) { TestInflationary(t, ty) })
	t.Run("ChangedReport", func(t *testing.T) { TestChangedReport(t, ty) })
	t.Run("DeltaEquivalence", func(t *testing.T) { TestDeltaEquivalence(t, ty) })
	t.Run("RoundTrip", func(t *testing.T) { TestRoundTrip(t, ty) })
	t.Run("Convergence", func(t *testing.T) { TestConvergence(t, ty) })
}

// TestCommutative checks a ⊔ b = b ⊔ a.
func TestCommutative[S any](t rapid.TB, ty Type[S]) {
	rapid.Check(t, func(t *rapid.T) {
		sys := Simulate(t, ty)
		a, b := sys.draw(t, ty, "a"), sys.draw(t, ty, "b")
		mustEqual(t, ty, join(ty, a, b), join(ty, b, a), "a⊔b = b⊔a")
	})
}

// TestAssociative checks (a ⊔ b) ⊔ c = a ⊔ (b ⊔ c).
func TestAssociative[S any](t rapid.TB, ty Type[S]) {
	rapid.Check(t, func(t *rapid.T) {
		sys := Simulate(t, ty)
		a, b, c := sys.draw(t, ty, "a"), sys.draw(t, ty, "b"), sys.draw(t, ty, "c")
		mustEqual(t, ty, join(ty, join(ty, a, b), c), join(ty, a, join(ty, b, c)), "(a⊔b)⊔c = a⊔(b⊔c)")
	})
}

// TestIdempotent checks a ⊔ a = a, and that merging a state into itself
// reports no change.
func TestIdempotent[S any](t rapid.TB, ty Type[S]) {
	rapid.Check(t, func(t *rapid.T) {
		sys := Simulate(t, ty)
		a := sys.draw(t, ty, "a")
		got := ty.Clone(a)
		if ty.Merge(got, a) {
			t.Fatalf("a⊔a reported a change")
		}
		mustEqual(t, ty, got, a, "a⊔a = a")
	})
}

// TestInflationary checks that a ⊔ b dominates both inputs, x ≤ a ⊔ b for
// x in {a, b}, where x ≤ y means x ⊔ y = y: joining the result into either
// input gives the result, and joining either input into the result again
// changes nothing.
func TestInflationary[S any](t rapid.TB, ty Type[S]) {
	rapid.Check(t, func(t *rapid.T) {
		sys := Simulate(t, ty)
		a, b := sys.draw(t, ty, "a"), sys.draw(t, ty, "b")
		ab := join(ty, a, b)
		for _, x := range []S{a, b} {
			mustEqual(t, ty, join(ty, x, ab), ab, "x⊔(a⊔b) = a⊔b")
			again := ty.Clone(ab)
			if ty.Merge(again, x) {
				t.Fatalf("(a⊔b)⊔x reported a change: a⊔b does not dominate its input")
			}
			mustEqual(t, ty, again, ab, "(a⊔b)⊔x = a⊔b")
		}
	})
}

// TestChangedReport checks that Merge reports a change exactly when the
// state changed: gossip relays on that bit.
func TestChangedReport[S any](t rapid.TB, ty Type[S]) {
	rapid.Check(t, func(t *rapid.T) {
		sys := Simulate(t, ty)
		a, b := sys.draw(t, ty, "a"), sys.draw(t, ty, "b")
		got := ty.Clone(a)
		changed := ty.Merge(got, b)
		if changed == ty.Equal(got, a) {
			t.Fatalf("merge reported changed=%v, but state equal to before is %v", changed, ty.Equal(got, a))
		}
	})
}

// TestDeltaEquivalence checks that a mutator's delta carries the whole
// effect of the mutation: s ⊔ δ = s' (the mutated state), and for any other
// state x from the same run, (x ⊔ s) ⊔ δ = x ⊔ s'.
func TestDeltaEquivalence[S any](t rapid.TB, ty Type[S]) {
	rapid.Check(t, func(t *rapid.T) {
		sys := Simulate(t, ty)
		i := rapid.IntRange(0, len(sys.Replicas)-1).Draw(t, "replica")
		before := ty.Clone(sys.Replicas[i])
		after := ty.Clone(sys.Replicas[i])
		r := sys.Clocks[i]
		r.Now = r.Clock.Last().Time()
		delta, ok := ty.Op(t, after, r)
		if !ok {
			t.Skip("operation refused")
		}
		mustEqual(t, ty, join(ty, before, delta), after, "s⊔δ = s'")
		x := sys.draw(t, ty, "x")
		mustEqual(t, ty, join(ty, join(ty, x, before), delta), join(ty, x, after), "(x⊔s)⊔δ = x⊔s'")
	})
}

// TestRoundTrip checks that decoding an encoding gives an equal state that
// encodes to the same bytes, and that equal states encode identically.
func TestRoundTrip[S any](t rapid.TB, ty Type[S]) {
	rapid.Check(t, func(t *rapid.T) {
		sys := Simulate(t, ty)
		a := sys.draw(t, ty, "a")
		b, err := ty.Marshal(a)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		got, err := ty.Unmarshal(b)
		if err != nil {
			t.Fatalf("unmarshal %x: %v", b, err)
		}
		mustEqual(t, ty, got, a, "decode(encode(a)) = a")
		b2, err := ty.Marshal(got)
		if err != nil {
			t.Fatalf("marshal again: %v", err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding differs: got %x, want %x", b2, b)
		}
	})
}

// TestConvergence checks that replicas that have exchanged their full states
// are equal and encode to identical bytes, whatever happened before.
func TestConvergence[S any](t rapid.TB, ty Type[S]) {
	rapid.Check(t, func(t *rapid.T) {
		sys := Simulate(t, ty)
		all := ty.New()
		for _, r := range sys.Replicas {
			ty.Merge(all, r)
		}
		var want []byte
		for i, r := range sys.Replicas {
			ty.Merge(r, all)
			mustEqual(t, ty, r, all, "replica after full exchange = join of all")
			b, err := ty.Marshal(r)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if i == 0 {
				want = b
			} else if !bytes.Equal(b, want) {
				t.Fatalf("replica %d encodes to %x, want %x", i, b, want)
			}
		}
	})
}
