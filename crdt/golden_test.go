package crdt_test

import (
	"bufio"
	"bytes"
	"encoding"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata/crdt")

// goldenDir holds the pinned encodings, in testdata/ at the repository root.
const goldenDir = "../testdata/crdt"

type codecState interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// goldenEntry is one pinned state: its label in the golden file, the state,
// and a constructor of an empty value of the same type to decode into.
type goldenEntry struct {
	label string
	state codecState
	fresh func() codecState
}

// goldenFile is the set of states pinned in testdata/crdt/<name>.golden.
type goldenFile struct {
	name    string
	entries []goldenEntry
}

// t0 is the fixed physical time of the golden states.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func mustClock(tb testing.TB, id crdt.ReplicaID) *crdt.HLC {
	tb.Helper()
	c, err := crdt.NewHLC(id)
	if err != nil {
		tb.Fatalf("NewHLC(%q): %v", id, err)
	}
	return c
}

func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// goldenStates builds, deterministically, a few states of every type: an
// empty one, a delta, and a full state several replicas contributed to.
// Changing what they encode to changes the wire format: bump
// EncodingVersion or keep old encodings decodable.
func goldenStates(tb testing.TB) []goldenFile {
	tb.Helper()
	const alpha, bravo, charlie crdt.ReplicaID = "alpha", "bravo", "charlie"

	// GCounter.
	var g crdt.GCounter
	gInc := must[*crdt.GCounter](tb)
	gInc(g.Inc(alpha, 3))
	gInc(g.Inc(bravo, 5))
	gDelta := gInc(g.Inc(charlie, 300))
	gInc(g.Inc(alpha, 1<<40))

	// PNCounter.
	var p crdt.PNCounter
	pOp := must[*crdt.PNCounter](tb)
	pOp(p.Inc(alpha, 10))
	pOp(p.Dec(bravo, 4))
	pDelta := pOp(p.Dec(alpha, 70000))

	// LWWRegister, written at two replicas with skewed clocks.
	ca, cb := mustClock(tb, alpha), mustClock(tb, bravo)
	var l crdt.LWWRegister[string]
	l.Set(ca.Now(t0), "apple")
	cb.Observe(l.Timestamp())
	lDelta := l.Set(cb.Now(t0.Add(-time.Millisecond)), "banana") // bravo's clock is behind
	var li crdt.LWWRegister[int64]
	li.Set(ca.Now(t0.Add(time.Second)), -42)
	var lu crdt.LWWRegister[uint64]
	lu.Set(ca.Now(t0.Add(2*time.Second)), 1<<63)
	var lb crdt.LWWRegister[bool]
	lb.Set(cb.Now(t0.Add(3*time.Second)), true)

	// ORSet: alpha and bravo edit concurrently; charlie gets bravo's second
	// delta before its first, so its context has a dot cloud.
	var sa, sb, sc crdt.ORSet[string]
	sb.Merge(noErr(sa.Add(alpha, "apple")))
	sb.Merge(noErr(sa.Add(alpha, "banana")))
	b1 := sb.Remove("apple")
	b2 := noErr(sb.Add(bravo, "cherry"))
	b3 := noErr(sb.Add(bravo, "durian"))
	sa.Add(alpha, "apple") // concurrent with bravo's remove: wins
	sa.Merge(&sb)
	sc.Merge(b3)
	sc.Merge(b1)
	_ = b2
	var si crdt.ORSet[int64]
	si.Add(alpha, -7)
	si.Add(alpha, 7)
	si.Add(bravo, 1<<40)
	var su crdt.ORSet[uint64]
	su.Add(charlie, 1<<63)

	// ORMap of DotFuns, shaped like a cart.
	var ma, mb lineMap
	mb.Merge(lineAdd(&ma, alpha, "apple", 2))
	lineAdd(&mb, bravo, "apple", 1)
	mb.Merge(lineSet(&ma, alpha, "banana", 5))
	mDelta := lineSet(&mb, bravo, "banana", 3)
	ma.Remove("apple")
	ma.Merge(&mb)

	fresh := func(v codecState) func() codecState {
		return func() codecState {
			switch v.(type) {
			case *crdt.GCounter:
				return &crdt.GCounter{}
			case *crdt.PNCounter:
				return &crdt.PNCounter{}
			case *crdt.LWWRegister[string]:
				return &crdt.LWWRegister[string]{}
			case *crdt.LWWRegister[int64]:
				return &crdt.LWWRegister[int64]{}
			case *crdt.LWWRegister[uint64]:
				return &crdt.LWWRegister[uint64]{}
			case *crdt.LWWRegister[bool]:
				return &crdt.LWWRegister[bool]{}
			case *crdt.ORSet[string]:
				return &crdt.ORSet[string]{}
			case *crdt.ORSet[int64]:
				return &crdt.ORSet[int64]{}
			case *crdt.ORSet[uint64]:
				return &crdt.ORSet[uint64]{}
			case *lineMap:
				return &lineMap{}
			}
			panic(fmt.Sprintf("no constructor for %T", v))
		}
	}
	entry := func(label string, s codecState) goldenEntry {
		return goldenEntry{label: label, state: s, fresh: fresh(s)}
	}
	return []goldenFile{
		{"gcounter", []goldenEntry{entry("full", &g), entry("delta", gDelta), entry("empty", &crdt.GCounter{})}},
		{"pncounter", []goldenEntry{entry("full", &p), entry("delta", pDelta), entry("empty", &crdt.PNCounter{})}},
		{"lww", []goldenEntry{
			entry("full", &l), entry("delta", lDelta), entry("empty", &crdt.LWWRegister[string]{}),
			entry("int64", &li), entry("uint64", &lu), entry("bool", &lb),
		}},
		{"orset", []goldenEntry{
			entry("full", &sa), entry("cloud", &sc), entry("delta-remove", b1), entry("delta-add", b3),
			entry("empty", &crdt.ORSet[string]{}), entry("int64", &si), entry("uint64", &su),
		}},
		{"ormap", []goldenEntry{entry("full", &ma), entry("delta-set", mDelta), entry("empty", &lineMap{})}},
	}
}

// TestGolden pins the wire format: each fixed state encodes to the bytes in
// testdata/crdt/<type>.golden (one "label hex" line per state), and those
// bytes decode back to it. Run with -update to rewrite the files after a
// deliberate format change.
func TestGolden(t *testing.T) {
	for _, g := range goldenStates(t) {
		t.Run(g.name, func(t *testing.T) {
			path := filepath.Join(goldenDir, g.name+".golden")
			got := map[string][]byte{}
			var out bytes.Buffer
			fmt.Fprintf(&out, "# crdt %s encodings, EncodingVersion %d: label hex. Regenerate with go test ./crdt -run TestGolden -update.\n", g.name, crdt.EncodingVersion)
			for _, e := range g.entries {
				b, err := e.state.MarshalBinary()
				if err != nil {
					t.Fatalf("%s: marshal: %v", e.label, err)
				}
				got[e.label] = b
				fmt.Fprintf(&out, "%s %x\n", e.label, b)
			}
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := readGolden(t, path)
			for _, e := range g.entries {
				w, ok := want[e.label]
				if !ok {
					t.Errorf("%s: no %q line; run with -update", path, e.label)
					continue
				}
				if !bytes.Equal(got[e.label], w) {
					t.Errorf("%s %s: got %x, want %x", g.name, e.label, got[e.label], w)
				}
				dec := e.fresh()
				if err := dec.UnmarshalBinary(w); err != nil {
					t.Errorf("%s %s: UnmarshalBinary(%x): %v", g.name, e.label, w, err)
					continue
				}
				if again, _ := dec.MarshalBinary(); !bytes.Equal(again, w) {
					t.Errorf("%s %s: decoded state re-encodes to %x, want %x", g.name, e.label, again, w)
				}
			}
			if len(want) != len(g.entries) {
				t.Errorf("%s: has %d states, want %d; run with -update", path, len(want), len(g.entries))
			}
		})
	}
}

func readGolden(tb testing.TB, path string) map[string][]byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("%v (run with -update to create it)", err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, h, ok := strings.Cut(line, " ")
		b, err := hex.DecodeString(h)
		if !ok || err != nil {
			tb.Fatalf("%s: bad line %q", path, line)
		}
		out[label] = b
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestGoldenSemantics checks that the golden states hold what their
// construction says, so a pinned encoding cannot pin a wrong state.
func TestGoldenSemantics(t *testing.T) {
	files := goldenStates(t)
	get := func(file, label string) codecState {
		for _, g := range files {
			for _, e := range g.entries {
				if g.name == file && e.label == label {
					return e.state
				}
			}
		}
		t.Fatalf("no golden %s %s", file, label)
		return nil
	}
	if v, err := get("gcounter", "full").(*crdt.GCounter).Value(); err != nil || v != 308+1<<40 {
		t.Errorf("gcounter: got %d, %v, want %d", v, err, 308+1<<40)
	}
	if v, err := get("pncounter", "full").(*crdt.PNCounter).Value(); err != nil || v != 10-4-70000 {
		t.Errorf("pncounter: got %d, %v, want %d", v, err, 10-4-70000)
	}
	if v, _ := get("lww", "full").(*crdt.LWWRegister[string]).Value(); v != "banana" {
		t.Errorf("lww: got %q, want %q (bravo wrote after observing alpha)", v, "banana")
	}
	if got := fmt.Sprint(get("orset", "full").(*crdt.ORSet[string]).Elements()); got != "[apple banana cherry durian]" {
		t.Errorf("orset: got %s, want [apple banana cherry durian]", got)
	}
	if got := fmt.Sprint(get("orset", "cloud").(*crdt.ORSet[string]).Elements()); got != "[durian]" {
		t.Errorf("orset cloud: got %s, want [durian]", got)
	}
	m := get("ormap", "full").(*lineMap)
	if got := fmt.Sprint(m.Keys(), lineValue(m, "apple"), lineValue(m, "banana")); got != "[apple banana] 1 3" {
		t.Errorf("ormap: got %s, want [apple banana] 1 3", got)
	}
}
