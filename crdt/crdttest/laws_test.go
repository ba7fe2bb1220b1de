package crdttest_test

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crdtd/crdtd/crdt/crdttest"
	"pgregory.net/rapid"
)

// recorder is a rapid.TB that records failure instead of failing the real
// test, so the kit's own tests can check that a law catches a broken type.
type recorder struct {
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Name() string                      { return "recorder" }
func (r *recorder) Logf(format string, args ...any)   {}
func (r *recorder) Log(args ...any)                   {}
func (r *recorder) Skipf(format string, args ...any)  { runtime.Goexit() }
func (r *recorder) Skip(args ...any)                  { runtime.Goexit() }
func (r *recorder) SkipNow()                          { runtime.Goexit() }
func (r *recorder) Errorf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }
func (r *recorder) Error(args ...any)                 { r.fail(fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.fail(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.fail(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) FailNow()          { r.fail(""); runtime.Goexit() }
func (r *recorder) Fail()             { r.fail("") }
func (r *recorder) Failed() bool      { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	if msg != "" {
		r.msgs = append(r.msgs, msg)
	}
}

// run runs one law against ty with a recorder, in its own goroutine so that
// FailNow can stop it.
func run[S any](law func(rapid.TB, crdttest.Type[S]), ty crdttest.Type[S]) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		law(r, ty)
	}()
	<-done
	return r
}

// set is a toy grow-only set of small ints: a correct CRDT whose merge can
// be broken on purpose.
type set struct{ m map[int]bool }

func setType(merge func(dst, src *set) bool) crdttest.Type[*set] {
	return crdttest.Type[*set]{
		New: func() *set { return &set{m: map[int]bool{}} },
		Op: func(t *rapid.T, s *set, _ crdttest.Replica) (*set, bool) {
			e := rapid.IntRange(0, 5).Draw(t, "e")
			s.m[e] = true
			return &set{m: map[int]bool{e: true}}, true
		},
		Merge: merge,
		Clone: func(s *set) *set { return &set{m: maps.Clone(s.m)} },
		Equal: func(a, b *set) bool { return maps.Equal(a.m, b.m) },
		Marshal: func(s *set) ([]byte, error) {
			return []byte(fmt.Sprint(slices.Sorted(maps.Keys(s.m)))), nil
		},
		Unmarshal: func(b []byte) (*set, error) {
			out := &set{m: map[int]bool{}}
			for _, f := range strings.Fields(strings.Trim(string(b), "[]")) {
				var e int
				if _, err := fmt.Sscan(f, &e); err != nil {
					return nil, err
				}
				out.m[e] = true
			}
			return out, nil
		},
	}
}

func union(dst, src *set) bool {
	changed := false
	for e := range src.m {
		if !dst.m[e] {
			dst.m[e], changed = true, true
		}
	}
	return changed
}

func TestLawsPassOnACorrectType(t *testing.T) {
	crdttest.Run(t, setType(union))
}

// Each broken merge violates at least the named law, and the kit must say
// so.
func TestLawsCatchBrokenMerges(t *testing.T) {
	// keepOwn ignores the other side: not inflationary, not commutative.
	keepOwn := func(dst, src *set) bool { return false }
	// replace takes the other side: not commutative.
	replace := func(dst, src *set) bool {
		changed := !maps.Equal(dst.m, src.m)
		dst.m = maps.Clone(src.m)
		return changed
	}
	// lies merges correctly but always reports "changed".
	lies := func(dst, src *set) bool { union(dst, src); return true }
	// dropsOdd loses odd elements it receives: deltas lose their effect.
	dropsOdd := func(dst, src *set) bool {
		changed := false
		for e := range src.m {
			if e%2 == 0 && !dst.m[e] {
				dst.m[e], changed = true, true
			}
		}
		return changed
	}
	tests := []struct {
		name  string
		merge func(dst, src *set) bool
		law   func(rapid.TB, crdttest.Type[*set])
	}{
		{"keepOwn/inflationary", keepOwn, crdttest.TestInflationary[*set]},
		{"keepOwn/commutative", keepOwn, crdttest.TestCommutative[*set]},
		{"replace/commutative", replace, crdttest.TestCommutative[*set]},
		{"lies/changed-report", lies, crdttest.TestChangedReport[*set]},
		{"dropsOdd/delta-equivalence", dropsOdd, crdttest.TestDeltaEquivalence[*set]},
		{"dropsOdd/convergence", dropsOdd, crdttest.TestConvergence[*set]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := run(tt.law, setType(tt.merge)); !r.Failed() {
				t.Fatalf("the law passed a broken merge, want a failure")
			}
		})
	}
}

// TestSimulateReachesRealStates checks that simulated runs produce states
// through the type's own operations, from 2 to 4 replicas.
func TestSimulateReachesRealStates(t *testing.T) {
	var sizes []int
	rapid.Check(t, func(t *rapid.T) {
		sys := crdttest.Simulate(t, setType(union))
		if n := len(sys.Replicas); n < 2 || n > 4 {
			t.Fatalf("got %d replicas, want 2..4", n)
		}
		for _, r := range sys.Replicas {
			for e := range r.m {
				if e < 0 || e > 5 {
					t.Fatalf("replica holds %d, which no operation adds", e)
				}
			}
		}
		sizes = append(sizes, len(sys.Deltas))
	})
	if slices.Max(sizes) == 0 {
		t.Fatalf("no run produced a delta")
	}
}
