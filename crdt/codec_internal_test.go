package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"pgregory.net/rapid"
)

// The tests in this file pin the Reader and Encoder at their boundaries,
// from inside the package: the public decoders reach these paths only with
// hand-made bytes.

// TestEncoderFormsMatchMsgpack: every form the Encoder appends is what
// msgpack's own encoder writes, at each boundary between forms and for
// random values.
func TestEncoderFormsMatchMsgpack(t *testing.T) {
	type form struct {
		name string
		ours func(*Encoder)
		ref  func(*msgpack.Encoder) error
	}
	var forms []form
	for _, n := range []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64} {
		forms = append(forms, form{fmt.Sprint("uint ", n), func(e *Encoder) { e.Uint(n) }, func(m *msgpack.Encoder) error { return m.EncodeUint(n) }})
	}
	for _, n := range []int64{0, 1, 127, 128, 255, 256, -1, -31, -32, -33, -127, -128, -129, -32768, -32769,
		math.MinInt32, math.MinInt32 - 1, math.MinInt64, math.MaxInt64} {
		forms = append(forms, form{fmt.Sprint("int ", n), func(e *Encoder) { e.Int(n) }, func(m *msgpack.Encoder) error { return m.EncodeInt(n) }})
	}
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("x", n)
		forms = append(forms, form{fmt.Sprint("string of ", n), func(e *Encoder) { e.String(s) }, func(m *msgpack.Encoder) error { return m.EncodeString(s) }})
	}
	for _, n := range []int{0, 1, 15, 16, 65535, 65536, math.MaxInt32} {
		forms = append(forms, form{fmt.Sprint("array of ", n), func(e *Encoder) { e.ArrayLen(n) }, func(m *msgpack.Encoder) error { return m.EncodeArrayLen(n) }})
	}
	for _, b := range []bool{false, true} {
		forms = append(forms, form{fmt.Sprint("bool ", b), func(e *Encoder) { e.Bool(b) }, func(m *msgpack.Encoder) error { return m.EncodeBool(b) }})
	}
	check := func(t interface{ Fatalf(string, ...any) }, f form) {
		e := newEncoder()
		f.ours(e)
		got, err := e.bytes()
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		var want bytes.Buffer
		want.WriteByte(EncodingVersion)
		if err := f.ref(msgpack.NewEncoder(&want)); err != nil {
			t.Fatalf("%s: msgpack: %v", f.name, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%s: got % x, msgpack writes % x", f.name, got, want.Bytes())
		}
	}
	for _, f := range forms {
		check(t, f)
	}
	rapid.Check(t, func(t *rapid.T) {
		u, i := rapid.Uint64().Draw(t, "u"), rapid.Int64().Draw(t, "i")
		check(t, form{fmt.Sprint("uint ", u), func(e *Encoder) { e.Uint(u) }, func(m *msgpack.Encoder) error { return m.EncodeUint(u) }})
		check(t, form{fmt.Sprint("int ", i), func(e *Encoder) { e.Int(i) }, func(m *msgpack.Encoder) error { return m.EncodeInt(i) }})
	})
}

func TestReaderIntegerForms(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		signed bool
		want   int64 // as int64; for unsigned reads, a non-negative value
		ok     bool
	}{
		{"uint from int8 0", []byte{0xd0, 0x00}, false, 0, true},
		{"uint from int8 1", []byte{0xd0, 0x01}, false, 1, true},
		{"uint from int8 -1", []byte{0xd0, 0xff}, false, 0, false},
		{"uint from negative fixint", []byte{0xff}, false, 0, false},
		{"int from uint64 MaxInt64", []byte{0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true, math.MaxInt64, true},
		{"int from uint64 MaxInt64+1", []byte{0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, true, 0, false},
		{"int from uint8 255", []byte{0xcc, 0xff}, true, 255, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Reader{b: tt.in}
			var got int64
			var err error
			if tt.signed {
				got, err = r.Int()
			} else {
				var u uint64
				u, err = r.Uint()
				got = int64(u)
			}
			if tt.ok && (err != nil || got != tt.want) {
				t.Errorf("read %x: got %d, %v; want %d, no error", tt.in, got, err, tt.want)
			}
			if !tt.ok && !errors.Is(err, ErrCorrupt) {
				t.Errorf("read %x: got %d, %v; want ErrCorrupt", tt.in, got, err)
			}
		})
	}
}

// TestReaderArrayBound: an array header is refused, before any element is
// read, when its elements cannot fit in what remains at minElem bytes each.
func TestReaderArrayBound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		minElem int
		ok      bool
	}{
		{"2 of 3 bytes in 6", []byte{0x92, 0, 0, 0, 0, 0, 0}, 3, true},
		{"2 of 3 bytes in 5", []byte{0x92, 0, 0, 0, 0, 0}, 3, false},
		{"3 of 1 byte in 3", []byte{0x93, 0, 0, 0}, 1, true},
		{"3 of 1 byte in 2", []byte{0x93, 0, 0}, 1, false},
	} {
		r := &Reader{b: tc.in}
		n, err := r.ArrayLen(tc.minElem)
		if tc.ok && err != nil {
			t.Errorf("%s: got %d, %v; want no error", tc.name, n, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "cannot fit")) {
			t.Errorf("%s: got %d, %v; want a \"cannot fit\" error", tc.name, n, err)
		}
	}
}

// TestDecodeSizeLimit: input of exactly MaxEncodedSize bytes is decoded
// (here, and found corrupt for what it holds); one byte more is refused
// for its size alone.
func TestDecodeSizeLimit(t *testing.T) {
	at := make([]byte, MaxEncodedSize)
	at[0] = EncodingVersion
	if _, err := newReader("test", at); err != nil {
		t.Errorf("%d bytes: got %v, want a reader", len(at), err)
	}
	over := make([]byte, MaxEncodedSize+1)
	over[0] = EncodingVersion
	if _, err := newReader("test", over); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "exceeds limit") {
		t.Errorf("%d bytes: got %v, want ErrCorrupt for size", len(over), err)
	}
}

func TestReaderStringLimit(t *testing.T) {
	in := []byte{0xa3, 'a', 'b', 'c'}
	if s, err := (&Reader{b: in}).String(3); err != nil || s != "abc" {
		t.Errorf("String(3) of a 3-byte string: got %q, %v; want \"abc\"", s, err)
	}
	if s, err := (&Reader{b: in}).String(2); !errors.Is(err, ErrCorrupt) {
		t.Errorf("String(2) of a 3-byte string: got %q, %v; want ErrCorrupt", s, err)
	}
}

func TestReaderTimestampLogicalLimit(t *testing.T) {
	enc := func(logical []byte) []byte {
		return append(append([]byte{0x93, 0x01}, logical...), 0xa1, 'r')
	}
	ts, err := (&Reader{b: enc([]byte{0xce, 0xff, 0xff, 0xff, 0xff})}).Timestamp()
	if err != nil || ts.Logical != math.MaxUint32 {
		t.Errorf("logical MaxUint32: got %v, %v; want it decoded", ts, err)
	}
	if _, err := (&Reader{b: enc([]byte{0xcf, 0, 0, 0, 1, 0, 0, 0, 0})}).Timestamp(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("logical MaxUint32+1: got %v, want ErrCorrupt", err)
	}
}

// TestSizeAtMost: the count that picks ORMap.Merge's indexed path counts
// version-vector and cloud dots alike, at the exact limit, and does not
// wrap around on a decoded context's huge entries.
func TestSizeAtMost(t *testing.T) {
	ctx := func(vv map[ReplicaID]uint64, cloud map[ReplicaID][]uint64) *CausalContext {
		rs := slices.Sorted(maps.Keys(vv))
		for r := range cloud {
			if _, ok := vv[r]; !ok {
				rs = append(rs, r)
			}
		}
		slices.Sort(rs)
		c := &CausalContext{}
		for _, r := range rs {
			c.es = append(c.es, ctxEntry{r: r, top: vv[r], cloud: cloud[r]})
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		c     *CausalContext
		limit int
		want  bool
	}{
		{"empty, limit 0", ctx(nil, nil), 0, true},
		{"a:1..3, limit 3", ctx(map[ReplicaID]uint64{"a": 3}, nil), 3, true},
		{"a:1..3, limit 2", ctx(map[ReplicaID]uint64{"a": 3}, nil), 2, false},
		{"a:1..3 b:1..2, limit 5", ctx(map[ReplicaID]uint64{"a": 3, "b": 2}, nil), 5, true},
		{"a:1..3 b:1..2, limit 4", ctx(map[ReplicaID]uint64{"a": 3, "b": 2}, nil), 4, false},
		{"a:1 cloud a:3 a:5, limit 3", ctx(map[ReplicaID]uint64{"a": 1}, map[ReplicaID][]uint64{"a": {3, 5}}), 3, true},
		{"a:1 cloud a:3 a:5, limit 2", ctx(map[ReplicaID]uint64{"a": 1}, map[ReplicaID][]uint64{"a": {3, 5}}), 2, false},
		{"a:1 b:1 c:1, limit 2", ctx(map[ReplicaID]uint64{"a": 1, "b": 1, "c": 1}, nil), 2, false},
		{"a:1 b:1 c:1, limit 3", ctx(map[ReplicaID]uint64{"a": 1, "b": 1, "c": 1}, nil), 3, true},
		{"cloud a:3 b:3, limit 1", ctx(nil, map[ReplicaID][]uint64{"a": {3}, "b": {3}}), 1, false},
		{"two entries of 2^63, limit 10", ctx(map[ReplicaID]uint64{"a": 1 << 63, "b": 1 << 63}, nil), 10, false},
	} {
		if got := tc.c.sizeAtMost(tc.limit); got != tc.want {
			t.Errorf("%s: sizeAtMost = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// gcounterBytes encodes a counter of n replicas r0000.., each at 1, with
// the replica at index dup (if >= 0) named like the one before it.
func gcounterBytes(n, dup int) []byte {
	b := []byte{EncodingVersion, 0xdd, 0, 0, 0, 0}
	b[2], b[3], b[4], b[5] = byte(2*n>>24), byte(2*n>>16), byte(2*n>>8), byte(2*n)
	for i := range n {
		id := i
		if i == dup {
			id = i - 1
		}
		b = append(b, 0xa5, 'r', byte('0'+id/1000%10), byte('0'+id/100%10), byte('0'+id/10%10), byte('0'+id%10), 0x01)
	}
	return b
}

func TestDecodeGCounterReplicaLimits(t *testing.T) {
	var g GCounter
	if err := g.UnmarshalBinary(gcounterBytes(MaxReplicas, -1)); err != nil {
		t.Errorf("counter of MaxReplicas replicas: got %v, want it decoded", err)
	}
	if err := g.UnmarshalBinary(gcounterBytes(MaxReplicas+1, -1)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("counter of MaxReplicas+1 replicas: got %v, want ErrCorrupt", err)
	}
	if err := g.UnmarshalBinary(gcounterBytes(3, 2)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("counter naming a replica twice: got %v, want ErrCorrupt", err)
	}
}

// TestPNCounterValueAtMinInt64: decrements may reach exactly MinInt64.
func TestPNCounterValueAtMinInt64(t *testing.T) {
	var c PNCounter
	for range 2 {
		if _, err := c.Dec("a", 1<<62); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := c.Value(); err != nil || v != math.MinInt64 {
		t.Errorf("after decrements of 2^63: got %d, %v; want MinInt64", v, err)
	}
	if _, err := c.Inc("b", 1); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Value(); err != nil || v != math.MinInt64+1 {
		t.Errorf("then an increment of 1: got %d, %v; want MinInt64+1", v, err)
	}
}

// TestUintLenIsTheEncodedLength: the room dotRun reserves per sequence
// number is what appendUint writes, at every form's edges.
func TestUintLenIsTheEncodedLength(t *testing.T) {
	for _, n := range []uint64{0, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, MaxSeq, 1<<64 - 1} {
		if got, want := uintLen(n), len(appendUint(nil, n)); got != want {
			t.Errorf("uintLen(%d) = %d, appendUint writes %d bytes", n, got, want)
		}
	}
}
