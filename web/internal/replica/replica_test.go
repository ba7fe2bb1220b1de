package replica

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func newDevice(t *testing.T, n byte) *Device {
	t.Helper()
	d, err := New(NewID([8]byte{n, 1, 2, 3, 4, 5, 6, 7}))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// node stands in for a crdtd node: it answers sync requests the way the
// daemon does (check, merge, answer with what the device lacks).
type node struct{ c *cart.Cart }

func (n *node) sync(t *testing.T, body []byte) []byte {
	t.Helper()
	var req cart.SyncRequest
	if err := req.UnmarshalBinary(body); err != nil {
		t.Fatal(err)
	}
	if err := n.c.CheckPush(req.Device, req.Delta); err != nil {
		t.Fatal(err)
	}
	n.c.Merge(req.Delta)
	known := req.Context.Clone()
	pushed := req.Delta.Context()
	known.Merge(&pushed)
	delta, seen := n.c.DeltaFor(&known)
	answer, err := (&cart.SyncResponse{Delta: delta, Seen: seen}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return answer
}

func syncWith(t *testing.T, d *Device, n *node, cartID string) {
	t.Helper()
	body, sent, err := d.SyncRequest(cartID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ApplySync(cartID, sent, n.sync(t, body)); err != nil {
		t.Fatal(err)
	}
}

func show(v cart.View) string {
	var parts []string
	for _, l := range v.Lines {
		price := "unknown"
		if l.Priced {
			price = FormatCents(l.UnitPriceCents)
		}
		parts = append(parts, fmt.Sprintf("%s=%d@%s", l.Item, l.Quantity, price))
	}
	return strings.Join(parts, " ")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestEditsArePendingUntilAcknowledged(t *testing.T) {
	d := newDevice(t, 1)
	n := &node{c: cart.New()}
	price := int64(125)
	must(t, d.Add(t0, "c", "apple", 2, &price))
	must(t, d.Add(t0, "c", "pear", 1, nil))
	if got := d.Pending("c"); got != 2 {
		t.Fatalf("pending %d, want 2", got)
	}
	body, sent, err := d.SyncRequest("c")
	must(t, err)
	// An edit made while the request is in flight is not acknowledged by
	// its answer.
	must(t, d.SetQuantity(t0, "c", "apple", 5))
	if _, err := d.ApplySync("c", sent, n.sync(t, body)); err != nil {
		t.Fatal(err)
	}
	if got := d.Pending("c"); got != 1 {
		t.Fatalf("pending after the sync %d, want 1 (the edit made during it)", got)
	}
	if got, want := show(n.c.View()), "apple=2@1.25 pear=1@unknown"; got != want {
		t.Fatalf("node has %q, want %q", got, want)
	}
	syncWith(t, d, n, "c")
	if got := d.Pending("c"); got != 0 {
		t.Fatalf("pending %d, want 0", got)
	}
	if got, want := show(n.c.View()), "apple=5@1.25 pear=1@unknown"; got != want {
		t.Fatalf("node has %q, want %q", got, want)
	}
	if !n.c.Equal(d.carts["c"].cart) {
		t.Fatal("device and node differ after a sync")
	}
}

// TestResendAppliesOnce: an answer lost on the way back leaves the edits
// pending; sending them again changes nothing on the node.
func TestResendAppliesOnce(t *testing.T) {
	d := newDevice(t, 1)
	n := &node{c: cart.New()}
	must(t, d.Add(t0, "c", "apple", 1, nil))
	body, _, err := d.SyncRequest("c")
	must(t, err)
	n.sync(t, body) // the answer is lost
	must(t, d.Add(t0, "c", "apple", 1, nil))
	syncWith(t, d, n, "c")
	if got := show(n.c.View()); got != "apple=2@unknown" {
		t.Fatalf("node has %q, want apple=2@unknown", got)
	}
}

// TestTwoDevicesConverge runs a cart semantics scenario through a node:
// a set concurrent with an add gives their sum, a remove concurrent with
// an add keeps only the unseen add.
func TestTwoDevicesConverge(t *testing.T) {
	phone, laptop := newDevice(t, 1), newDevice(t, 2)
	n := &node{c: cart.New()}
	must(t, phone.Add(t0, "c", "apple", 1, nil))
	must(t, laptop.Add(t0, "c", "apple", 1, nil))
	syncWith(t, phone, n, "c")
	syncWith(t, laptop, n, "c")
	syncWith(t, phone, n, "c")
	if got := show(phone.View("c")); got != "apple=2@unknown" {
		t.Fatalf("phone shows %q, want apple=2@unknown", got)
	}
	must(t, phone.SetQuantity(t0.Add(time.Second), "c", "apple", 3))
	must(t, laptop.Add(t0.Add(time.Second), "c", "apple", 1, nil))
	must(t, laptop.Add(t0, "c", "pear", 1, nil))
	syncWith(t, phone, n, "c")
	syncWith(t, laptop, n, "c")
	must(t, phone.Remove("c", "pear")) // phone has not seen the pear: nothing to remove
	syncWith(t, phone, n, "c")
	for name, d := range map[string]*Device{"phone": phone, "laptop": laptop} {
		if got := show(d.View("c")); got != "apple=4@unknown pear=1@unknown" {
			t.Errorf("%s shows %q, want apple=4@unknown pear=1@unknown", name, got)
		}
	}
}

func TestReusedReplicaIsRefused(t *testing.T) {
	d := newDevice(t, 1)
	n := &node{c: cart.New()}
	must(t, d.Add(t0, "c", "apple", 1, nil))
	old, err := d.Encode()
	must(t, err)
	must(t, d.Add(t0, "c", "apple", 1, nil))
	syncWith(t, d, n, "c")
	// The browser's storage goes back to the older copy.
	restored, err := Decode(old)
	must(t, err)
	body, sent, err := restored.SyncRequest("c")
	must(t, err)
	if _, err := restored.ApplySync("c", sent, n.sync(t, body)); !errors.Is(err, ErrReplicaReused) {
		t.Fatalf("got %v, want ErrReplicaReused", err)
	}
	if restored.Pending("c") != 1 {
		t.Fatal("the refused sync dropped pending edits")
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	d := newDevice(t, 3)
	n := &node{c: cart.New()}
	price := int64(99)
	must(t, d.Add(t0, "b", "milk", 2, &price))
	syncWith(t, d, n, "b")
	must(t, d.Add(t0, "a", "tea", 1, nil))
	_, _, err := d.SyncRequest("a") // sealed, then the page reloads
	must(t, err)
	must(t, d.Add(t0, "a", "tea", 4, nil))
	b, err := d.Encode()
	must(t, err)
	got, err := Decode(b)
	must(t, err)
	if got.ID() != d.ID() || show(got.View("a")) != "tea=5@unknown" || show(got.View("b")) != "milk=2@0.99" {
		t.Fatalf("decoded %s %q %q", got.ID(), show(got.View("a")), show(got.View("b")))
	}
	if got.Pending("a") != 2 || got.Pending("b") != 0 {
		t.Fatalf("pending a=%d b=%d, want 2 and 0", got.Pending("a"), got.Pending("b"))
	}
	if last, want := got.clock.Last(), d.clock.Last(); last.Compare(want) < 0 {
		t.Fatalf("clock went back: %v < %v", last, want)
	}
	again, err := got.Encode()
	must(t, err)
	if string(again) != string(b) {
		t.Fatal("a decoded state encodes differently")
	}
	// Every truncation is an error, never a panic.
	for i := range len(b) {
		if _, err := Decode(b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode of %d of %d bytes: %v, want ErrCorrupt", i, len(b), err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	d, _ := New(NewID([8]byte{9}))
	_ = d.Add(t0, "c", "x", 1, nil)
	b, _ := d.Encode()
	f.Add(b)
	f.Add([]byte(stateMagic + "\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		again, err := d.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
	})
}

func TestNewRefusesOtherIDs(t *testing.T) {
	for _, id := range []crdt.ReplicaID{"", "r-0011223344556677", "d-0011", "d-00112233445566GG", "d-00112233445566778"} {
		if _, err := New(id); err == nil {
			t.Errorf("New(%q) succeeded", id)
		}
	}
}

func TestCents(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"3", 300, true}, {"3.5", 350, true}, {"3.50", 350, true}, {".5", 50, true}, {"0", 0, true},
		{" 12.05 ", 1205, true}, {"10000000000", 1_000_000_000_000, true},
		{"", 0, false}, {".", 0, false}, {"3.", 300, true}, {"3.505", 0, false}, {"-1", 0, false},
		{"1e3", 0, false}, {"1,50", 0, false}, {"10000000000.01", 0, false}, {"99999999999999999999", 0, false},
	} {
		got, err := ParseCents(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseCents(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got != 0 {
			if back, err := ParseCents(FormatCents(got)); err != nil || back != got {
				t.Errorf("ParseCents(FormatCents(%d)) = %d, %v", got, back, err)
			}
		}
	}
	for c, want := range map[int64]string{0: "0.00", 5: "0.05", 125: "1.25", -1205: "-12.05", 9223372036854775807: "92233720368547758.07"} {
		if got := FormatCents(c); got != want {
			t.Errorf("FormatCents(%d) = %q, want %q", c, got, want)
		}
	}
}
