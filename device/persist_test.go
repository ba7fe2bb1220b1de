package device_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/device"
)

func openFile(t *testing.T, path string) *device.FileStorage {
	t.Helper()
	s, err := device.NewFileStorage(path)
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestReloadContinues: a device reloaded from its file has its ID, carts
// and pending changes; its clock restarts past its saved mark even when the
// wall clock went back; its next edits get new dots; and a sync then
// delivers both the old pending changes and the new ones.
func TestReloadContinues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device.state")
	node := newFakeNode()
	clk := newFakeClock()
	store := openFile(t, path)
	d := newTestDevice(t, store, clk)
	must(t, d.Add("c", "apple", 2, cents(125)))
	must(t, d.Sync(t.Context(), node.client(t), "c"))
	must(t, d.SetQuantity("c", "apple", 5)) // pending, offline
	must(t, d.Add("c", "pear", 1, nil))
	seq, mark, view := d.CartState("c").MaxSeq(d.ID()), d.Clock(), d.View("c")
	must(t, store.Close())

	clk.advance(-time.Hour) // the machine's clock was stepped back
	d2 := newTestDevice(t, openFile(t, path), clk)
	if d2.ID() != d.ID() {
		t.Errorf("got ID %q, want %q", d2.ID(), d.ID())
	}
	if got := d2.Pending("c"); got != 2 {
		t.Errorf("got %d pending after reload, want 2", got)
	}
	if got, want := lines(d2.View("c")), lines(view); got != want {
		t.Errorf("got view %q, want %q", got, want)
	}
	if got := d2.Clock(); got.Compare(mark) < 0 {
		t.Errorf("clock restarted at %v, before the mark %v", got, mark)
	}
	must(t, d2.SetQuantity("c", "apple", 3))
	if got := d2.CartState("c").MaxSeq(d2.ID()); got != seq+1 {
		t.Errorf("new edit got seq %d, want %d: dots continue, never reused", got, seq+1)
	}
	if got := d2.CartState("c").Quantity("apple"); got != 3 {
		t.Errorf("got %d apples, want 3: a set replaces the sets it saw", got)
	}
	must(t, d2.Sync(t.Context(), node.client(t), "c"))
	if got, want := lines(node.cart("c").View()), "apple=3@125 pear=1@?"; got != want {
		t.Errorf("node: got %q, want %q", got, want)
	}
	if got := d2.Pending("c"); got != 0 {
		t.Errorf("got %d pending, want 0", got)
	}
}

// TestClockRestartsPastWhatItSaw: a device at noon that synced a price set
// at 12:30 (by a device whose clock runs ahead) then sets a price, with or
// without a restart in between. Its price must win over one set
// concurrently at 12:15, which it never saw: its change came after the
// 12:30 one, and so after everything that one beat. A clock that did not
// observe the answer, or restarted from the wall, would stamp it noon and
// let the 12:15 price come back.
func TestClockRestartsPastWhatItSaw(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%t", restart), func(t *testing.T) {
			node := newFakeNode()
			ahead, behind := newFakeClock(), newFakeClock()
			ahead.advance(30 * time.Minute)
			behind.advance(15 * time.Minute)
			x := newTestDevice(t, &device.MemoryStorage{}, ahead)
			must(t, x.SetPrice("c", "apple", 10))
			must(t, x.Sync(t.Context(), node.client(t), "c"))

			store := &device.MemoryStorage{}
			d := newTestDevice(t, store, nil) // noon
			must(t, d.Sync(t.Context(), node.client(t), "c"))
			if restart {
				d = newTestDevice(t, store, nil)
			}

			z := newTestDevice(t, &device.MemoryStorage{}, behind)
			must(t, z.SetPrice("c", "apple", 20)) // concurrent with everything below
			must(t, z.Sync(t.Context(), node.client(t), "c"))

			must(t, d.SetPrice("c", "apple", 30))
			must(t, d.Add("c", "apple", 1, nil)) // a line with prices only is not shown
			must(t, d.Sync(t.Context(), node.client(t), "c"))
			for name, v := range map[string]cart.View{"device": d.View("c"), "node": node.cart("c").View()} {
				if got, want := lines(v), "apple=1@30"; got != want {
					t.Errorf("%s: got %q, want %q: the price set after seeing 12:30 wins", name, got, want)
				}
			}
		})
	}
}

// TestClockRestartsPastItsCarts: even when the saved high-water mark is
// lost (here: zero), the clock restarts past the latest timestamp in the
// device's carts.
func TestClockRestartsPastItsCarts(t *testing.T) {
	src := newTestDevice(t, &device.MemoryStorage{}, nil)
	must(t, src.SetPrice("c", "apple", 10))
	latest := src.CartState("c").Latest()
	stateBytes, err := src.CartState("c").MarshalBinary()
	must(t, err)
	store := &device.MemoryStorage{}
	must(t, store.Save(state(t, "crdtd-device", 1, string(src.ID()), []any{0, 0}, []any{[]any{"c", stateBytes, []any{}}})))
	clk := newFakeClock()
	clk.advance(-time.Hour)
	d := newTestDevice(t, store, clk)
	if got := d.Clock(); got.Compare(latest) < 0 {
		t.Errorf("clock restarted at %v, before the cart's latest %v", got, latest)
	}
}

func TestFileStorage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.state")
	s := openFile(t, path)
	if b, err := s.Load(); b != nil || err != nil {
		t.Fatalf("Load of a missing file: got %q, %v, want nil, nil", b, err)
	}
	for _, b := range [][]byte{[]byte("one"), []byte("second state")} {
		must(t, s.Save(b))
		got, err := s.Load()
		must(t, err)
		if string(got) != string(b) {
			t.Errorf("got %q, want %q", got, b)
		}
	}
	info, err := os.Stat(path)
	must(t, err)
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("got mode %v, want 0600", info.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"device.state", "device.state.lock"}; !slices.Equal(names, want) {
		t.Errorf("got files %q, want %q: no temporary file may stay", names, want)
	}

	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		if _, err := device.NewFileStorage(path); !errors.Is(err, device.ErrInUse) {
			t.Errorf("second open: got %v, want ErrInUse", err)
		}
		must(t, s.Close())
		must(t, s.Close())
		again := openFile(t, path)
		if b, err := again.Load(); err != nil || string(b) != "second state" {
			t.Errorf("after reopening: got %q, %v", b, err)
		}
	}

	empty := filepath.Join(dir, "empty.state")
	must(t, os.WriteFile(empty, nil, 0o600))
	if _, err := openFile(t, empty).Load(); !errors.Is(err, device.ErrCorrupt) {
		t.Errorf("empty file: got %v, want ErrCorrupt", err)
	}
	if _, err := device.NewFileStorage(filepath.Join(dir, "no", "such", "dir")); err == nil {
		t.Error("a file in a missing directory: got nil error, want one")
	}
}

// validState returns the saved state of a device with two carts, one with
// pending changes.
func validState(t testing.TB) []byte {
	store := &device.MemoryStorage{}
	d := newTestDevice(t, store, nil)
	node := newFakeNode()
	must(t, d.Add("a", "apple", 2, cents(125)))
	must(t, d.Sync(t.Context(), node.client(t), "a"))
	must(t, d.Add("b", "pear", 1, nil))
	must(t, d.Remove("a", "apple"))
	return store.Bytes()
}

// state encodes a hand-made saved state: [mark, version, id, clock, carts].
func state(t *testing.T, fields ...any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(fields)
	must(t, err)
	return b
}

func cartBytes(t *testing.T, f func(c *cart.Cart)) []byte {
	t.Helper()
	c := cart.New()
	if f != nil {
		f(c)
	}
	b, err := c.MarshalBinary()
	must(t, err)
	return b
}

// hugeCartCount is a state whose cart array claims 2^32-1 carts in five
// bytes: a decoder that believed it would allocate gigabytes.
func hugeCartCount(t *testing.T, id string) []byte {
	b := state(t, "crdtd-device", 1, id, []any{0, 0}) // 4 of the 5 fields
	b[0]++
	return append(b, 0xdd, 0xff, 0xff, 0xff, 0xff)
}

// TestCorruptState: a damaged or foreign state is refused with an error
// that says what is wrong, never a panic and never a fresh start.
func TestCorruptState(t *testing.T) {
	good := validState(t)
	const id = "d-0123456789abcdef"
	empty := cartBytes(t, nil)
	other := newTestDevice(t, &device.MemoryStorage{}, nil)
	withApple := cartBytes(t, func(c *cart.Cart) {
		// An add by another replica, so that a pending delta of it is not in
		// an empty cart.
		_ = other.Add("x", "apple", 1, nil)
		c.Merge(other.CartState("x"))
	})
	tests := []struct {
		name    string
		b       []byte
		wantErr error
		want    string
	}{
		{"truncated", good[:len(good)-5], device.ErrCorrupt, "cannot fit"},
		{"trailing bytes", append(slices.Clone(good), 0xc0), device.ErrCorrupt, "1 bytes after the state"},
		{"JSON", []byte(`{"id":"d-1"}`), device.ErrCorrupt, `does not start with the "crdtd-device" mark`},
		{"another msgpack file", state(t, "crdtd-node", 1), device.ErrCorrupt, "mark"},
		{"newer version", state(t, "crdtd-device", 2, "whatever"), device.ErrVersion, "version 2"},
		{"missing fields", state(t, "crdtd-device", 1, id), device.ErrCorrupt, "3 fields, want 5"},
		{"node replica ID", state(t, "crdtd-device", 1, "r-0123456789abcdef", []any{0, 0}, []any{}), device.ErrCorrupt, "is not d- and 16 hex digits"},
		{"negative logical clock", state(t, "crdtd-device", 1, id, []any{0, -1}, []any{}), device.ErrCorrupt, "negative"},
		{"logical clock overflow", state(t, "crdtd-device", 1, id, []any{0, uint64(1) << 40}, []any{}), device.ErrCorrupt, "overflows 32 bits"},
		{"huge cart count", hugeCartCount(t, id), device.ErrCorrupt, "array of 4294967295 cannot fit"},
		{"invalid cart ID", state(t, "crdtd-device", 1, id, []any{0, 0}, []any{[]any{"a/b", empty, []any{}}}), device.ErrCorrupt, "cart ID"},
		{"carts out of order", state(t, "crdtd-device", 1, id, []any{0, 0},
			[]any{[]any{"b", empty, []any{}}, []any{"a", empty, []any{}}}), device.ErrCorrupt, "out of order"},
		{"duplicate cart", state(t, "crdtd-device", 1, id, []any{0, 0},
			[]any{[]any{"a", empty, []any{}}, []any{"a", empty, []any{}}}), device.ErrCorrupt, "out of order"},
		{"cart not a cart", state(t, "crdtd-device", 1, id, []any{0, 0},
			[]any{[]any{"a", []byte("nope"), []any{}}}), device.ErrCorrupt, "cart a"},
		{"zero edits", state(t, "crdtd-device", 1, id, []any{0, 0},
			[]any{[]any{"a", empty, []any{[]any{0, empty}}}}), device.ErrCorrupt, "edit count 0"},
		{"pending change not in the cart", state(t, "crdtd-device", 1, id, []any{0, 0},
			[]any{[]any{"a", empty, []any{[]any{1, withApple}}}}), device.ErrCorrupt, "not in the cart"},
		{"string for a number", state(t, "crdtd-device", 1, id, []any{"0", 0}, []any{}), device.ErrCorrupt, "want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &device.MemoryStorage{}
			must(t, store.Save(tt.b))
			_, err := device.New(device.Config{Storage: store})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if got := store.Bytes(); !slices.Equal(got, tt.b) {
				t.Error("a refused state was overwritten")
			}
		})
	}

	// A state cut anywhere is refused.
	for n := 1; n < len(good); n++ {
		store := &device.MemoryStorage{}
		must(t, store.Save(good[:n]))
		if _, err := device.New(device.Config{Storage: store}); !errors.Is(err, device.ErrCorrupt) {
			t.Fatalf("cut at %d of %d bytes: got %v, want ErrCorrupt", n, len(good), err)
		}
	}
}

// FuzzLoad: no input makes New panic; an input it accepts saves back to a
// state that loads to the same device.
func FuzzLoad(f *testing.F) {
	f.Add(validState(f))
	f.Add([]byte{0x95, 0xac})
	f.Fuzz(func(t *testing.T, b []byte) {
		store := &device.MemoryStorage{}
		must(t, store.Save(b))
		d, err := device.New(device.Config{Storage: store})
		if err != nil {
			return
		}
		if len(b) == 0 {
			return // a new device
		}
		for _, id := range d.Carts() {
			if err := d.Add(id, "fuzz", 1, nil); err != nil {
				if errors.Is(err, cart.ErrTooManyLines) || errors.Is(err, cart.ErrOverflow) ||
					errors.Is(err, cart.ErrInvalidQuantity) || errors.Is(err, cart.ErrTooManyAdds) {
					continue
				}
				t.Fatalf("add to loaded cart %s: %v", id, err)
			}
		}
		again, err := device.New(device.Config{Storage: store})
		if err != nil {
			t.Fatalf("the state a loaded device saved does not load: %v", err)
		}
		for _, id := range d.Carts() {
			if !again.CartState(id).Equal(d.CartState(id)) || again.Pending(id) != d.Pending(id) {
				t.Fatalf("cart %s differs after a save and load", id)
			}
		}
	})
}
