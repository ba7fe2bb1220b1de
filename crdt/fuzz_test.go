package crdt_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt/crdttest"
)

// The fuzz targets feed arbitrary bytes to every decoder. Their seed
// corpora (valid encodings of golden and simulated states, hostile inputs,
// and the files in ../testdata/crdt/fuzz/<target>) run in every go test;
// go test -fuzz=FuzzORSet ./crdt explores further.

type fuzzable[S any] interface {
	codecState
	Equal(S) bool
	Merge(S) bool
	Clone() S
}

// fuzzDecoder checks, for any input: decoding never panics; a decoded state
// re-encodes to bytes that decode to an Equal state and re-encode to the
// same bytes (canonical); merging it into a valid state, and a valid state
// into it, neither panics nor breaks encoding.
func fuzzDecoder[S fuzzable[S]](f *testing.F, name string, fresh func() S, ty crdttest.Type[S]) {
	for _, g := range goldenStates(f) {
		for _, e := range g.entries {
			if _, ok := e.state.(S); ok {
				b, err := e.state.MarshalBinary()
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	gen := rapid.Custom(func(t *rapid.T) []byte {
		sys := crdttest.Simulate(t, ty)
		b, err := ty.Marshal(sys.Replicas[0])
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	for i := range 16 {
		f.Add(gen.Example(i))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0xdd, 0x02, 0xfa, 0xf0, 0x80})
	f.Add(append([]byte{1}, bytes.Repeat([]byte{0x91}, 10_000)...))
	seeds, _ := filepath.Glob(filepath.Join(goldenDir, "fuzz", name, "*"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	valid := gen.Example(99)

	f.Fuzz(func(t *testing.T, in []byte) {
		s := fresh()
		if err := s.UnmarshalBinary(in); err != nil {
			return
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %x but cannot re-encode: %v", in, err)
		}
		again := fresh()
		if err := again.UnmarshalBinary(b); err != nil {
			t.Fatalf("re-encoding %x of %x does not decode: %v", b, in, err)
		}
		if !again.Equal(s) {
			t.Fatalf("decode(encode(decode(%x))) differs from decode(%x)", in, in)
		}
		if b2, _ := again.MarshalBinary(); !bytes.Equal(b2, b) {
			t.Fatalf("encoding not canonical: got %x, want %x", b2, b)
		}
		v := fresh()
		if err := v.UnmarshalBinary(valid); err != nil {
			t.Fatal(err)
		}
		w := s.Clone()
		v.Merge(s)
		w.Merge(v)
		for _, x := range []S{v, w} {
			if _, err := x.MarshalBinary(); err != nil {
				t.Fatalf("merged state does not encode: %v", err)
			}
		}
	})
}

func FuzzGCounter(f *testing.F) {
	fuzzDecoder(f, "FuzzGCounter", gcounterType().New, gcounterType())
}

func FuzzPNCounter(f *testing.F) {
	fuzzDecoder(f, "FuzzPNCounter", pncounterType().New, pncounterType())
}

func FuzzLWWRegister(f *testing.F) {
	fuzzDecoder(f, "FuzzLWWRegister", lwwType().New, lwwType())
}

func FuzzORSet(f *testing.F) {
	fuzzDecoder(f, "FuzzORSet", orsetType().New, orsetType())
}

func FuzzORMap(f *testing.F) {
	fuzzDecoder(f, "FuzzORMap", ormapType().New, ormapType())
}
