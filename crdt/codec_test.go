package crdt_test

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/crdtd/crdtd/crdt"
)

// decoders are the UnmarshalBinary methods of every type, each on a fresh
// value. Hostile-input tests run against all of them.
var decoders = []struct {
	name string
	new  func() encoding.BinaryUnmarshaler
}{
	{"gcounter", func() encoding.BinaryUnmarshaler { return &crdt.GCounter{} }},
	{"pncounter", func() encoding.BinaryUnmarshaler { return &crdt.PNCounter{} }},
	{"lww", func() encoding.BinaryUnmarshaler { return &crdt.LWWRegister[string]{} }},
	{"orset", func() encoding.BinaryUnmarshaler { return &crdt.ORSet[string]{} }},
	{"ormap", func() encoding.BinaryUnmarshaler { return &lineMap{} }},
}

// wire builds an encoding by hand: the version byte, then v in msgpack with
// compact integers. Tests use it to write inputs MarshalBinary never would.
func wire(tb testing.TB, v any) []byte {
	tb.Helper()
	var buf bytes.Buffer
	buf.WriteByte(crdt.EncodingVersion)
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		tb.Fatalf("encode %v: %v", v, err)
	}
	return buf.Bytes()
}

type list = []any

// decodeNoPanic runs an UnmarshalBinary, turning a panic into a test
// failure with the input.
func decodeNoPanic(tb testing.TB, u encoding.BinaryUnmarshaler, b []byte) (err error) {
	tb.Helper()
	defer func() {
		if p := recover(); p != nil {
			tb.Fatalf("UnmarshalBinary(%x) panicked: %v", b, p)
		}
	}()
	return u.UnmarshalBinary(b)
}

// allocBytes returns the bytes allocated per call of f, averaged over runs.
func allocBytes(runs int, f func()) uint64 {
	f() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestDecodeHugeLengthHeader is the regression test for msgpack's
// allocate-what-the-header-claims behaviour (vmihailenco/msgpack#401): a
// five-byte array header claiming 50,000,000 elements, alone or nested where
// each decoder first reads a length, is rejected without allocating for the
// claim.
func TestDecodeHugeLengthHeader(t *testing.T) {
	claim32 := []byte{0xdd, 0x02, 0xfa, 0xf0, 0x80} // array32 of 50,000,000
	claim16 := []byte{0xdc, 0xff, 0xff}             // array16 of 65,535
	inputs := map[string][]byte{
		"top array32": append([]byte{crdt.EncodingVersion}, claim32...),
		"top array16": append([]byte{crdt.EncodingVersion}, claim16...),
		// pncounter's first gcounter; a map's context; a map's entries.
		"second array32":  append([]byte{crdt.EncodingVersion, 0x92}, claim32...),
		"entries array32": append([]byte{crdt.EncodingVersion, 0x92, 0x90}, claim32...),
		"string32":        {crdt.EncodingVersion, 0x92, 0xdb, 0xff, 0xff, 0xff, 0xff},
	}
	for _, dec := range decoders {
		for name, in := range inputs {
			t.Run(dec.name+"/"+name, func(t *testing.T) {
				if err := decodeNoPanic(t, dec.new(), in); !errors.Is(err, crdt.ErrCorrupt) {
					t.Fatalf("UnmarshalBinary(%x): got %v, want ErrCorrupt", in, err)
				}
				const limit = 1 << 20
				if got := allocBytes(20, func() { _ = dec.new().UnmarshalBinary(in) }); got >= limit {
					t.Fatalf("UnmarshalBinary(%x) allocated %d bytes, want < %d", in, got, limit)
				}
			})
		}
	}
}

// TestDecodeDeepNesting feeds 1,000,000 nested one-element arrays. The
// decoders never recurse on input-controlled depth, so this is rejected like
// any other malformed input, without a stack overflow.
func TestDecodeDeepNesting(t *testing.T) {
	in := append([]byte{crdt.EncodingVersion}, bytes.Repeat([]byte{0x91}, 1_000_000)...)
	for _, dec := range decoders {
		t.Run(dec.name, func(t *testing.T) {
			if err := decodeNoPanic(t, dec.new(), in); !errors.Is(err, crdt.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestDecodeTruncated cuts every valid encoding of the golden states at
// every offset: each prefix is rejected with ErrCorrupt, never a panic.
func TestDecodeTruncated(t *testing.T) {
	for _, g := range goldenStates(t) {
		for _, e := range g.entries {
			b, err := e.state.MarshalBinary()
			if err != nil {
				t.Fatalf("%s %s: marshal: %v", g.name, e.label, err)
			}
			for i := range len(b) {
				err := decodeNoPanic(t, e.fresh(), b[:i])
				if !errors.Is(err, crdt.ErrCorrupt) {
					t.Fatalf("%s %s: UnmarshalBinary(%x) (first %d of %d bytes): got %v, want ErrCorrupt", g.name, e.label, b[:i], i, len(b), err)
				}
			}
		}
	}
}

func TestDecodeVersion(t *testing.T) {
	for _, dec := range decoders {
		for _, v := range []byte{0, 2, 0x90, 0xff} {
			in := []byte{v, 0x90}
			err := decodeNoPanic(t, dec.new(), in)
			if !errors.Is(err, crdt.ErrVersion) {
				t.Errorf("%s: UnmarshalBinary(%x): got %v, want ErrVersion", dec.name, in, err)
			}
			if errors.Is(err, crdt.ErrCorrupt) {
				t.Errorf("%s: UnmarshalBinary(%x): got %v, want ErrVersion only", dec.name, in, err)
			}
		}
	}
}

func TestDecodeTrailingBytes(t *testing.T) {
	for _, g := range goldenStates(t) {
		e := g.entries[0]
		b, err := e.state.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: marshal: %v", g.name, err)
		}
		in := append(b, 0xc0)
		if err := decodeNoPanic(t, e.fresh(), in); !errors.Is(err, crdt.ErrCorrupt) {
			t.Errorf("%s: UnmarshalBinary(%x): got %v, want ErrCorrupt", g.name, in, err)
		}
	}
}

// TestDecodeLeavesReceiver checks that a failed decode leaves the receiver
// as it was.
func TestDecodeLeavesReceiver(t *testing.T) {
	for _, g := range goldenStates(t) {
		u := g.entries[0].fresh()
		good, _ := g.entries[0].state.MarshalBinary()
		if err := u.UnmarshalBinary(good); err != nil {
			t.Fatalf("%s: UnmarshalBinary(%x): %v", g.name, good, err)
		}
		if err := u.UnmarshalBinary(good[:len(good)-1]); err == nil {
			t.Fatalf("%s: truncated input accepted", g.name)
		}
		got, _ := u.MarshalBinary()
		if !bytes.Equal(got, good) {
			t.Errorf("%s: after a failed decode got %x, want %x", g.name, got, good)
		}
	}
}

// TestDecodeInvalid lists inputs a valid encoder could never produce. Each
// is well-formed msgpack, so only the checks of meaning catch it.
func TestDecodeInvalid(t *testing.T) {
	longID := strings.Repeat("r", crdt.MaxReplicaIDLen+1)
	ctxA := list{list{"a", 2}}
	dot := func(i, s int) list { return list{i, s} }
	tests := []struct {
		decoder string
		name    string
		in      any // msgpack value after the version byte
		raw     []byte
	}{
		{decoder: "gcounter", name: "not an array", in: "a"},
		{decoder: "gcounter", name: "odd length", in: list{"a"}},
		{decoder: "gcounter", name: "unsorted replicas", in: list{"b", 1, "a", 1}},
		{decoder: "gcounter", name: "duplicate replicas", in: list{"a", 1, "a", 2}},
		{decoder: "gcounter", name: "zero entry", in: list{"a", 0}},
		{decoder: "gcounter", name: "negative entry", in: list{"a", -1}},
		{decoder: "gcounter", name: "empty replica id", in: list{"", 1}},
		{decoder: "gcounter", name: "replica id with space", in: list{"a b", 1}},
		{decoder: "gcounter", name: "replica id too long", in: list{longID, 1}},
		{decoder: "gcounter", name: "replica id not a string", in: list{7, 1}},
		{decoder: "gcounter", name: "entry not an integer", in: list{"a", "1"}},
		{decoder: "gcounter", name: "huge string header", raw: []byte{crdt.EncodingVersion, 0x92, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{decoder: "gcounter", name: "empty input", raw: []byte{}},
		{decoder: "pncounter", name: "one side", in: list{list{}}},
		{decoder: "pncounter", name: "three sides", in: list{list{}, list{}, list{}}},
		{decoder: "pncounter", name: "zero decrement", in: list{list{}, list{"a", 0}}},
		{decoder: "pncounter", name: "unsorted increments", in: list{list{"b", 1, "a", 1}, list{}}},
		{decoder: "lww", name: "one field", in: list{list{1, 0, "a"}}},
		{decoder: "lww", name: "three fields", in: list{list{1, 0, "a"}, "x", "y"}},
		{decoder: "lww", name: "timestamp of two fields", in: list{list{1, 0}, "x"}},
		{decoder: "lww", name: "logical overflows uint32", in: list{list{1, uint64(1) << 32, "a"}, "x"}},
		{decoder: "lww", name: "invalid timestamp replica", in: list{list{1, 0, "a/b"}, "x"}},
		{decoder: "lww", name: "value not a string", in: list{list{1, 0, "a"}, 5}},
		{decoder: "lww", name: "huge value header", raw: []byte{crdt.EncodingVersion, 0x92, 0x93, 0x01, 0x00, 0xa1, 'a', 0xdb, 0x7f, 0xff, 0xff, 0xff}},
		{decoder: "orset", name: "three fields", in: list{list{}, list{}, list{}}},
		{decoder: "orset", name: "dot missing from context", in: list{ctxA, list{"x", list{dot(0, 3)}}}},
		{decoder: "orset", name: "dot replica index out of range", in: list{ctxA, list{"x", list{dot(1, 1)}}}},
		{decoder: "orset", name: "dot sequence zero", in: list{ctxA, list{"x", list{dot(0, 0)}}}},
		{decoder: "orset", name: "dot of three fields", in: list{ctxA, list{"x", list{list{0, 1, 1}}}}},
		{decoder: "orset", name: "negative dot index", in: list{ctxA, list{"x", list{dot(-1, 1)}}}},
		{decoder: "orset", name: "unsorted keys", in: list{ctxA, list{"y", list{dot(0, 1)}, "x", list{dot(0, 2)}}}},
		{decoder: "orset", name: "duplicate keys", in: list{ctxA, list{"x", list{dot(0, 1)}, "x", list{dot(0, 2)}}}},
		{decoder: "orset", name: "empty dot set", in: list{ctxA, list{"x", list{}}}},
		{decoder: "orset", name: "unsorted dots", in: list{ctxA, list{"x", list{dot(0, 2), dot(0, 1)}}}},
		{decoder: "orset", name: "duplicate dots", in: list{ctxA, list{"x", list{dot(0, 1), dot(0, 1)}}}},
		{decoder: "orset", name: "odd entries", in: list{ctxA, list{"x"}}},
		{decoder: "orset", name: "huge key header", raw: []byte{crdt.EncodingVersion, 0x92, 0x90, 0x92, 0xdb, 0x7f, 0xff, 0xff, 0xff}},
		{decoder: "orset", name: "context replicas unsorted", in: list{list{list{"b", 1}, list{"a", 1}}, list{}}},
		{decoder: "orset", name: "context replicas duplicate", in: list{list{list{"a", 1}, list{"a", 2}}, list{}}},
		{decoder: "orset", name: "context entry empty", in: list{list{list{"a", 0}}, list{}}},
		{decoder: "orset", name: "context entry of one field", in: list{list{list{"a"}}, list{}}},
		{decoder: "orset", name: "context replica invalid", in: list{list{list{"", 1}}, list{}}},
		{decoder: "orset", name: "context cloud adjacent to vector", in: list{list{list{"a", 1, 2}}, list{}}},
		{decoder: "orset", name: "context cloud dot 1 with empty vector", in: list{list{list{"a", 0, 1}}, list{}}},
		{decoder: "orset", name: "context cloud below vector", in: list{list{list{"a", 3, 2}}, list{}}},
		{decoder: "orset", name: "context cloud unsorted", in: list{list{list{"a", 0, 5, 3}}, list{}}},
		{decoder: "orset", name: "context cloud duplicate", in: list{list{list{"a", 0, 3, 3}}, list{}}},
		{decoder: "orset", name: "context not an array", in: list{"a", list{}}},
		{decoder: "ormap", name: "odd dot function", in: list{ctxA, list{"x", list{dot(0, 1)}}}},
		{decoder: "ormap", name: "payload not an integer", in: list{ctxA, list{"x", list{dot(0, 1), "one"}}}},
		{decoder: "ormap", name: "unsorted dot function", in: list{ctxA, list{"x", list{dot(0, 2), 1, dot(0, 1), 1}}}},
		{decoder: "ormap", name: "empty dot function", in: list{ctxA, list{"x", list{}}}},
		{decoder: "ormap", name: "dot function dot missing from context", in: list{ctxA, list{"x", list{dot(0, 9), 1}}}},
	}
	byName := map[string]func() encoding.BinaryUnmarshaler{}
	for _, d := range decoders {
		byName[d.name] = d.new
	}
	for _, tt := range tests {
		t.Run(tt.decoder+"/"+tt.name, func(t *testing.T) {
			in := tt.raw
			if in == nil {
				in = wire(t, tt.in)
			}
			err := decodeNoPanic(t, byName[tt.decoder](), in)
			if !errors.Is(err, crdt.ErrCorrupt) {
				t.Fatalf("UnmarshalBinary(%x): got %v, want ErrCorrupt", in, err)
			}
			if !strings.HasPrefix(err.Error(), "decode ") {
				t.Errorf("error %q does not start with the operation", err)
			}
		})
	}
}

// TestDecodeValid checks the hand-built encodings the invalid cases were
// derived from, so that those fail for the stated reason only.
func TestDecodeValid(t *testing.T) {
	ctxA := list{list{"a", 2}}
	tests := []struct {
		decoder string
		in      any
	}{
		{"gcounter", list{"a", 1, "b", 2}},
		{"pncounter", list{list{"a", 1}, list{"a", 2}}},
		{"lww", list{}},
		{"lww", list{list{1, 0, "a"}, "x"}},
		{"orset", list{ctxA, list{"x", list{list{0, 1}}, "y", list{list{0, 2}}}}},
		{"orset", list{list{list{"a", 0, 3, 5}, list{"b", 1}}, list{"x", list{list{0, 3}, list{1, 1}}}}},
		{"ormap", list{ctxA, list{"x", list{list{0, 1}, 1, list{0, 2}, -4}}}},
		// Integers in longer forms than needed decode: digests are taken of
		// re-encoded, canonical states, not of received bytes.
		{"gcounter", []byte{crdt.EncodingVersion, 0x92, 0xa1, 'a', 0xcf, 0, 0, 0, 0, 0, 0, 0, 1}},
	}
	byName := map[string]func() encoding.BinaryUnmarshaler{}
	for _, d := range decoders {
		byName[d.name] = d.new
	}
	for _, tt := range tests {
		in, ok := tt.in.([]byte)
		if !ok {
			in = wire(t, tt.in)
		}
		if err := decodeNoPanic(t, byName[tt.decoder](), in); err != nil {
			t.Errorf("%s: UnmarshalBinary(%x): got %v, want nil", tt.decoder, in, err)
		}
	}
}

// TestDecodeIntegerForms decodes every msgpack integer form a peer might
// use for a counter entry, and rejects the ones out of range.
func TestDecodeIntegerForms(t *testing.T) {
	prefix := []byte{crdt.EncodingVersion, 0x92, 0xa1, 'a'}
	tests := []struct {
		num  []byte
		want uint64
		ok   bool
	}{
		{[]byte{0x05}, 5, true},
		{[]byte{0xcc, 0xff}, 255, true},
		{[]byte{0xcd, 0x01, 0x00}, 256, true},
		{[]byte{0xce, 0x00, 0x01, 0x00, 0x00}, 65536, true},
		{[]byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1<<64 - 1, true},
		{[]byte{0xd0, 0x05}, 5, true},
		{[]byte{0xd1, 0x00, 0x05}, 5, true},
		{[]byte{0xd2, 0x00, 0x00, 0x00, 0x05}, 5, true},
		{[]byte{0xd3, 0, 0, 0, 0, 0, 0, 0, 0x05}, 5, true},
		{[]byte{0xff}, 0, false},       // -1
		{[]byte{0xd0, 0xfb}, 0, false}, // -5
		{[]byte{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, false},
		{[]byte{0xc0}, 0, false},                         // nil
		{[]byte{0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, 0, false}, // float64
		{[]byte{0xcd, 0x01}, 0, false},                   // truncated
	}
	for _, tt := range tests {
		in := append(append([]byte{}, prefix...), tt.num...)
		var g crdt.GCounter
		err := decodeNoPanic(t, &g, in)
		if (err == nil) != tt.ok {
			t.Errorf("UnmarshalBinary(%x): got error %v, want ok=%v", in, err, tt.ok)
			continue
		}
		if !tt.ok {
			if !errors.Is(err, crdt.ErrCorrupt) {
				t.Errorf("UnmarshalBinary(%x): got %v, want ErrCorrupt", in, err)
			}
			continue
		}
		if got, _ := g.Value(); got != tt.want {
			t.Errorf("UnmarshalBinary(%x): got value %d, want %d", in, got, tt.want)
		}
	}
}

// TestDecodeSignedForms covers the signed integer forms and their limits
// through DotFun payloads (amount is an int64).
func TestDecodeSignedForms(t *testing.T) {
	ctxA := list{list{"a", 1}}
	tests := []struct {
		payload any
		want    amount
	}{
		{int64(-1), -1},
		{int64(-200), -200},
		{int64(-40000), -40000},
		{int64(-3_000_000_000), -3_000_000_000},
		{uint64(1 << 62), 1 << 62},
	}
	for _, tt := range tests {
		in := wire(t, list{ctxA, list{"x", list{list{0, 1}, tt.payload}}})
		var m lineMap
		if err := decodeNoPanic(t, &m, in); err != nil {
			t.Errorf("UnmarshalBinary(%x): %v", in, err)
			continue
		}
		if got := lineValue(&m, "x"); got != tt.want {
			t.Errorf("UnmarshalBinary(%x): got %d, want %d", in, got, tt.want)
		}
	}
	// 2^63 does not fit an int64.
	in := wire(t, list{ctxA, list{"x", list{list{0, 1}, uint64(1) << 63}}})
	var m lineMap
	if err := decodeNoPanic(t, &m, in); !errors.Is(err, crdt.ErrCorrupt) {
		t.Errorf("UnmarshalBinary(%x): got %v, want ErrCorrupt", in, err)
	}
}

// TestDecodeRejectsTooManyReplicas: a context naming more than crdt.MaxReplicas
// replicas is refused, however small each entry is.
func TestDecodeRejectsTooManyReplicas(t *testing.T) {
	for _, n := range []int{crdt.MaxReplicas, crdt.MaxReplicas + 1} {
		var s crdt.ORSet[string]
		for i := range n {
			s.Add(crdt.ReplicaID(fmt.Sprintf("r%05d", i)), "x")
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		err = new(crdt.ORSet[string]).UnmarshalBinary(b)
		if n <= crdt.MaxReplicas && err != nil {
			t.Fatalf("%d replicas: got %v, want success", n, err)
		}
		if n > crdt.MaxReplicas && !errors.Is(err, crdt.ErrCorrupt) {
			t.Fatalf("%d replicas: got %v, want crdt.ErrCorrupt", n, err)
		}
	}
}

// TestConcurrentEncodingsAreIndependent: encodings run at once on many
// goroutines (which share recycled encoders) give the bytes each value
// gives alone, whatever encoded before: a table or scratch one encoding
// left behind never shows in another.
func TestConcurrentEncodingsAreIndependent(t *testing.T) {
	var values []encoding.BinaryMarshaler
	for i := range 24 {
		s := &crdt.ORSet[string]{}
		for j := range i + 1 {
			s.Add(crdt.ReplicaID(fmt.Sprintf("r%d", j%(i%5+1))), fmt.Sprintf("e%d", j))
		}
		g := &crdt.GCounter{}
		g.Inc(crdt.ReplicaID(fmt.Sprintf("g%d", i)), uint64(i+1))
		values = append(values, s, g)
	}
	want := make([][]byte, len(values))
	for i, v := range values {
		b, err := v.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		want[i] = b
	}
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for round := range 200 {
				i := (w*7 + round*13) % len(values)
				got, err := values[i].MarshalBinary()
				if err == nil && !bytes.Equal(got, want[i]) {
					err = fmt.Errorf("value %d encoded as %x, alone as %x", i, got, want[i])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
