package crdt_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/crdt/crdttest"
)

// reach is what one simulated run did that the laws must see.
type reach struct {
	removeSawAdd bool // a remove or clear dropped dots of a key it saw
	remoteRemove bool // merging another replica's delta took a key away
	fastRemove   bool // ... by Merge's indexed path for small deltas
}

// reachOf wraps ty so that each simulated run records what it reached.
func reachOf(ty crdttest.Type[*lineMap]) *rapid.Generator[reach] {
	return rapid.Custom(func(t *rapid.T) reach {
		var r reach
		w := ty
		w.Op = func(t *rapid.T, m *lineMap, rep crdttest.Replica) (*lineMap, bool) {
			d, ok := ty.Op(t, m, rep)
			ctx := d.Context()
			if ok && d.Len() == 0 && !ctx.IsEmpty() {
				r.removeSawAdd = true
			}
			return d, ok
		}
		w.Merge = func(dst, src *lineMap) bool {
			fast := crdt.FastMerge(dst, src)
			before := dst.Len()
			changed := ty.Merge(dst, src)
			if dst.Len() < before && src.Len() == 0 {
				r.remoteRemove = true
				r.fastRemove = r.fastRemove || fast
			}
			return changed
		}
		crdttest.Simulate(t, w)
		return r
	})
}

// TestGeneratorsReachRemoves checks, on 200 fixed runs of the simulation
// the law tests draw their states from, that most runs hold a remove that
// dropped an add it had seen, and that many merge such a remove into
// another replica by ORMap.Merge's indexed path. Without that the laws say
// nothing about removes: a fast path that kept removed keys once passed
// every test because three keys never reached it.
func TestGeneratorsReachRemoves(t *testing.T) {
	const runs = 200
	gen := reachOf(ormapType())
	var saw, remote, fast int
	for i := range runs {
		r := gen.Example(i)
		if r.removeSawAdd {
			saw++
		}
		if r.remoteRemove {
			remote++
		}
		if r.fastRemove {
			fast++
		}
	}
	t.Logf("of %d runs: %d removed an add they saw, %d merged such a remove elsewhere, %d by the indexed path", runs, saw, remote, fast)
	if saw < runs/2 {
		t.Errorf("got %d of %d runs with a remove that saw an add, want at least half", saw, runs)
	}
	if fast < runs/5 {
		t.Errorf("got %d of %d runs merging a remove by the indexed path, want at least a fifth", fast, runs)
	}
}
