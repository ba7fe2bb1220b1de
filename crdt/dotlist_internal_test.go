package crdt

import (
	"testing"

	"pgregory.net/rapid"
)

// TestContextReaderAgreesWithContains: the reader that merge uses answers
// as CausalContext.Contains does, for dots of several replicas asked in
// any order, runs of one replica included.
func TestContextReaderAgreesWithContains(t *testing.T) {
	replicas := []ReplicaID{"a", "b", "c"}
	rapid.Check(t, func(t *rapid.T) {
		var c CausalContext
		for range rapid.IntRange(0, 30).Draw(t, "dots") {
			c.Add(Dot{Replica: rapid.SampledFrom(replicas).Draw(t, "r"), Seq: rapid.Uint64Range(1, 12).Draw(t, "s")})
		}
		cr := contextReader{c: &c}
		for range rapid.IntRange(1, 40).Draw(t, "asks") {
			d := Dot{Replica: rapid.SampledFrom(replicas).Draw(t, "ask r"), Seq: rapid.Uint64Range(0, 14).Draw(t, "ask s")}
			if got, want := cr.contains(d), c.Contains(d); got != want {
				t.Fatalf("contains(%v) = %v, Contains gives %v", d, got, want)
			}
		}
	})
}
