package cart

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// goldenCart is a fixed cart built by two devices, pinning the format.
func goldenCart(t testing.TB) *Cart {
	t.Helper()
	base := time.Unix(1_800_000_000, 0)
	phone, _ := crdt.NewHLC("phone")
	laptop, _ := crdt.NewHLC("laptop")
	a, b := New(), New()
	must := func(_ *Cart, err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Add(phone.Now(base), "apple", 2))
	must(a.SetPrice(phone.Now(base), "apple", 125))
	must(b.Add(laptop.Now(base), "milk", 1))
	must(b.SetQuantity(laptop.Now(base.Add(time.Millisecond)), "milk", 3))
	must(b.Add(laptop.Now(base), "pear", 1))
	must(b.Remove("pear"))
	a.Merge(b)
	return a
}

func TestGoldenEncoding(t *testing.T) {
	path := filepath.Join("..", "testdata", "cart", "cart.golden")
	b, err := goldenCart(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got := hex.EncodeToString(b) + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got != string(want) {
		t.Fatalf("encoding changed: got %s, want %s (a format change needs a new version byte)", got, want)
	}
	raw, _ := hex.DecodeString(strings.TrimSpace(string(want)))
	c := New()
	if err := c.UnmarshalBinary(raw); err != nil {
		t.Fatalf("decode golden: %v", err)
	}
	if !c.Equal(goldenCart(t)) {
		t.Fatalf("golden bytes decode to a different cart")
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	good, err := goldenCart(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(good) {
		if err := New().UnmarshalBinary(good[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded without error", i)
		}
	}
	wrongVersion := append([]byte{9}, good[1:]...)
	if err := New().UnmarshalBinary(wrongVersion); !errors.Is(err, crdt.ErrVersion) {
		t.Fatalf("wrong version: got %v, want ErrVersion", err)
	}
	if err := New().UnmarshalBinary(append(bytes.Clone(good), 0)); !errors.Is(err, crdt.ErrCorrupt) {
		t.Fatalf("trailing byte: got %v, want ErrCorrupt", err)
	}
}

// TestDecodeHugeHeaderIsBounded feeds a 6-byte input whose array header
// claims 50,000,000 elements: it must be refused without allocating for
// them.
func TestDecodeHugeHeaderIsBounded(t *testing.T) {
	in := []byte{crdt.EncodingVersion, 0xdd, 0x02, 0xfa, 0xf0, 0x80}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := New().UnmarshalBinary(in)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, crdt.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes decoding 6 bytes, want < 1 MiB", grew)
	}
}

func TestDecodeDeepNestingIsRejected(t *testing.T) {
	in := append([]byte{crdt.EncodingVersion}, bytes.Repeat([]byte{0x91}, 1_000_000)...)
	if err := New().UnmarshalBinary(in); !errors.Is(err, crdt.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

func FuzzDecodeCart(f *testing.F) {
	good, err := goldenCart(f).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{crdt.EncodingVersion, 0x92, 0x90, 0x90})
	f.Add([]byte{crdt.EncodingVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := New()
		if err := c.UnmarshalBinary(b); err != nil {
			return
		}
		if v := c.View(); v.TotalCents < 0 {
			t.Fatalf("view of decoded cart has a negative total: %+v", v)
		}
		enc, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again := New()
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("decode re-encoding %x: %v", enc, err)
		}
		if !again.Equal(c) {
			t.Fatalf("round trip changed the cart")
		}
		enc2, _ := again.MarshalBinary()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not canonical: %x then %x", enc, enc2)
		}
	})
}

// TestLineMetadataStaysBounded measures the encoded size of a one-line cart
// after 1, 10 and 100 adds and after a set: adds accumulate (each may meet a
// concurrent set elsewhere, so each must stay distinct), and a set absorbs
// them all.
func TestLineMetadataStaysBounded(t *testing.T) {
	clk, _ := crdt.NewHLC("r-0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	c := New()
	size := func() int {
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	sizes := map[int]int{}
	for i := 1; i <= 100; i++ {
		if _, err := c.Add(clk.Now(now), "apple", 1); err != nil {
			t.Fatal(err)
		}
		if i == 1 || i == 10 || i == 100 {
			sizes[i] = size()
		}
	}
	if _, err := c.SetQuantity(clk.Now(now), "apple", 100); err != nil {
		t.Fatal(err)
	}
	afterSet := size()
	t.Logf("bytes for one line: 1 add %d, 10 adds %d, 100 adds %d, after set %d", sizes[1], sizes[10], sizes[100], afterSet)
	if afterSet > sizes[1]+16 {
		t.Fatalf("after a set: got %d bytes, want at most %d (the set absorbs all adds)", afterSet, sizes[1]+16)
	}
}

// TestAddDeltaSize checks the add-to-cart delta against the 64-byte target
// (docs/benchmarks.md) with a daemon-style 18-byte replica ID.
func TestAddDeltaSize(t *testing.T) {
	clk, _ := crdt.NewHLC("r-0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	c := New()
	for i := range 50 {
		if _, err := c.Add(clk.Now(now), "item-"+itoa(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	d, err := c.Add(clk.Now(now), "apple", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 64 {
		t.Fatalf("add delta: got %d bytes, want <= 64", len(b))
	}
}
