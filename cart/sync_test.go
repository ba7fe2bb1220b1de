package cart

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/crdt/crdttest"
)

// TestDeltaForEquivalence: merging what a state holds beyond another
// replica's context gives that replica exactly what merging the whole state
// gives, for any two states reached by real runs.
func TestDeltaForEquivalence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sys := crdttest.Simulate(t, cartType)
		pool := append(append(append([]*Cart{}, sys.Replicas...), sys.Snapshots...), sys.Deltas...)
		device := rapid.SampledFrom(pool).Draw(t, "device").Clone()
		node := rapid.SampledFrom(pool).Draw(t, "node")
		ctx := device.Context()
		delta, seen := node.DeltaFor(&ctx)

		// The device may have changed since it sent its context.
		later := device.Clone()
		if rapid.Bool().Draw(t, "device moved on") {
			later.Merge(rapid.SampledFrom(pool).Draw(t, "more"))
		}
		got, want := later.Clone(), later.Clone()
		got.MergeDeltaFor(delta, &seen)
		want.Merge(node)
		if !got.Equal(want) {
			t.Fatalf("MergeDeltaFor differs from merging the whole state:\ngot  %v\nwant %v", got.View(), want.View())
		}
		if delta.m.Len() > node.m.Len() {
			t.Fatalf("DeltaFor has %d lines, the state only %d", delta.m.Len(), node.m.Len())
		}
		// Nothing the device has seen is sent again.
		for _, k := range delta.m.Keys() {
			delta.m.Peek(k, func(l line) {
				for d := range l.EachDot {
					if ctx.Contains(d) {
						t.Fatalf("DeltaFor sends %v, which the device has seen", d)
					}
				}
			})
		}
	})
}

// TestCheckPush: a replica may push its own new changes, any changes the
// receiver has seen (a retry), but no unseen change of another replica.
func TestCheckPush(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func(id crdt.ReplicaID) *crdt.HLC {
		c, err := crdt.NewHLC(id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	node, phone, laptop := New(), New(), New()
	nodeClk, phoneClk, laptopClk := clock("r-node"), clock("d-phone"), clock("d-laptop")
	seed, err := node.Add(nodeClk.Now(now), "apple", 1)
	if err != nil {
		t.Fatal(err)
	}
	phone.Merge(seed)
	laptop.Merge(seed)

	own, err := phone.Add(phoneClk.Now(now), "pear", 2)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := phone.Remove("apple") // removes the node's change the phone has seen
	if err != nil {
		t.Fatal(err)
	}
	push := own.Clone()
	push.Merge(rm)
	if err := node.CheckPush("d-phone", push); err != nil {
		t.Fatalf("the phone's own changes and a remove of a seen change: %v", err)
	}
	if err := node.CheckPush("d-laptop", push); !errors.Is(err, ErrForeignChanges) {
		t.Fatalf("the laptop relaying the phone's unseen change: got %v, want ErrForeignChanges", err)
	}
	node.Merge(push)
	if err := node.CheckPush("d-laptop", push); err != nil {
		t.Fatalf("a push of changes the node has seen: %v", err)
	}
	if node.Changes(push) {
		t.Fatal("Changes: a merged push still looks new")
	}
	// The laptop learns a change of the node's elsewhere and removes it; a
	// replica that has not seen that change yet cannot take the remove.
	other := New()
	nodeLater, err := node.Add(nodeClk.Now(now), "fig", 1)
	if err != nil {
		t.Fatal(err)
	}
	laptop.Merge(nodeLater)
	rmFig, err := laptop.Remove("fig")
	if err != nil {
		t.Fatal(err)
	}
	other.Merge(seed)
	if err := other.CheckPush("d-laptop", rmFig); !errors.Is(err, ErrPushAhead) {
		t.Fatalf("a remove of a change the receiver has not seen: got %v, want ErrPushAhead", err)
	}
	if err := node.CheckPush("d-laptop", rmFig); err != nil {
		t.Fatalf("the same remove where the change is known: %v", err)
	}
	fresh, err := laptop.Add(laptopClk.Now(now), "kiwi", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !node.Changes(fresh) {
		t.Fatal("Changes: a new change looks seen")
	}

	// A push with more new changes than a cart may hold is refused.
	defer func(old int) { maxDots = old }(maxDots)
	maxDots = 5
	many, manyClk := New(), clock("d-many")
	for i := range maxDots + 1 {
		if _, err := many.SetPrice(manyClk.Now(now), fmt.Sprintf("i%d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := node.CheckPush("d-many", many); !errors.Is(err, ErrPushTooLarge) {
		t.Fatalf("a push of more than %d new changes: got %v, want ErrPushTooLarge", maxDots, err)
	}
}

// syncMachine is a cluster of one node replica and devices that edit
// offline and sync through an unreliable network: a push may be lost on
// the way (the node never sees it), or its answer may be lost (the node
// merged it, the device does not know and sends it again), and answers may
// be applied late. At the end every replica, after a last reliable sync,
// equals the merge of every change made, so nothing is lost or counted
// twice however often a push is resent.
type syncMachine struct {
	node    *Cart
	devices []*syncDevice
	all     *Cart        // every change made anywhere
	late    []lateAnswer // answers delivered out of order
	now     time.Time
}

type syncDevice struct {
	id      crdt.ReplicaID
	clock   *crdt.HLC
	cart    *Cart
	pending *Cart // changes not yet acknowledged by the node
}

type lateAnswer struct {
	device int
	resp   SyncResponse
}

func (m *syncMachine) init(t *rapid.T) {
	m.node, m.all, m.now = New(), New(), time.Unix(1_700_000_000, 0)
	for i := range rapid.IntRange(2, 3).Draw(t, "devices") {
		id := crdt.ReplicaID(fmt.Sprintf("d-%d", i))
		clk, err := crdt.NewHLC(id)
		if err != nil {
			t.Fatal(err)
		}
		m.devices = append(m.devices, &syncDevice{id: id, clock: clk, cart: New(), pending: New()})
	}
}

func (m *syncMachine) edit(t *rapid.T) {
	d := m.devices[rapid.IntRange(0, len(m.devices)-1).Draw(t, "device")]
	m.now = m.now.Add(time.Millisecond)
	ts := d.clock.Now(m.now)
	item := drawItem(t)
	var delta *Cart
	var err error
	switch drawKind(t) {
	case opAdd:
		delta, err = d.cart.Add(ts, item, uint64(rapid.IntRange(1, 3).Draw(t, "n")))
	case opSet:
		delta, err = d.cart.SetQuantity(ts, item, uint64(rapid.IntRange(0, 4).Draw(t, "q")))
	case opRemove:
		delta, err = d.cart.Remove(item)
	case opPrice:
		delta, err = d.cart.SetPrice(ts, item, int64(rapid.IntRange(0, 500).Draw(t, "cents")))
	default:
		delta = d.cart.Clear()
	}
	if err != nil {
		t.Fatal(err)
	}
	d.pending.Merge(delta)
	m.all.Merge(delta)
}

// sync runs one sync of a device through the unreliable network.
func (m *syncMachine) sync(t *rapid.T) {
	i := rapid.IntRange(0, len(m.devices)-1).Draw(t, "device")
	d := m.devices[i]
	req := SyncRequest{Device: d.id, Context: d.cart.Context(), Delta: d.pending.Clone()}
	b, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got SyncRequest
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("request round trip: %v", err)
	}
	switch rapid.IntRange(0, 3).Draw(t, "fate") {
	case 0: // lost on the way: the node never sees it
		return
	default:
	}
	if err := m.node.CheckPush(got.Device, got.Delta); err != nil {
		t.Fatalf("node refused an honest push: %v", err)
	}
	m.node.Merge(got.Delta)
	known := got.Context.Clone()
	pushed := got.Delta.Context()
	known.Merge(&pushed)
	answer, seen := m.node.DeltaFor(&known)
	rb, err := (&SyncResponse{Delta: answer, Seen: seen}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var resp SyncResponse
	if err := resp.UnmarshalBinary(rb); err != nil {
		t.Fatalf("response round trip: %v", err)
	}
	switch rapid.IntRange(0, 3).Draw(t, "answer") {
	case 0: // the answer is lost: the device keeps its pending changes
	case 1: // the answer arrives later, after other edits
		m.late = append(m.late, lateAnswer{device: i, resp: resp})
	default:
		d.cart.MergeDeltaFor(resp.Delta, &resp.Seen)
		d.pending = New() // acknowledged: the node holds it durably
		// Edits made since the request was built would stay pending; in
		// this machine a sync is atomic, so there are none.
	}
}

func (m *syncMachine) deliverLate(t *rapid.T) {
	if len(m.late) == 0 {
		t.Skip("no late answer")
	}
	k := rapid.IntRange(0, len(m.late)-1).Draw(t, "late")
	a := m.late[k]
	m.late = append(m.late[:k], m.late[k+1:]...)
	// A late answer is merged, but pending stays: it may not cover edits
	// made since; the next sync resends them, which is harmless.
	m.devices[a.device].cart.MergeDeltaFor(a.resp.Delta, &a.resp.Seen)
}

func (m *syncMachine) check(t *rapid.T) {
	for _, d := range m.devices {
		if v := d.cart.View(); v.Overflow {
			t.Fatalf("%s overflowed: %+v", d.id, v)
		}
	}
}

// quiesce: every device syncs reliably twice (the second round carries
// what other devices pushed in the first), then all equal the merge of
// every change.
func (m *syncMachine) quiesce(t *rapid.T) {
	for range 2 {
		for _, d := range m.devices {
			if err := m.node.CheckPush(d.id, d.pending); err != nil {
				t.Fatalf("final push: %v", err)
			}
			m.node.Merge(d.pending)
			known := d.cart.Context()
			delta, seen := m.node.DeltaFor(&known)
			d.cart.MergeDeltaFor(delta, &seen)
			d.pending = New()
		}
	}
	if !m.node.Equal(m.all) {
		t.Fatalf("node after sync differs from the merge of every change:\nnode %v\nall  %v", m.node.View(), m.all.View())
	}
	for _, d := range m.devices {
		if !d.cart.Equal(m.all) {
			t.Fatalf("%s after sync differs from the merge of every change:\ngot  %v\nwant %v", d.id, d.cart.View(), m.all.View())
		}
	}
}

func TestSyncConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var m syncMachine
		m.init(t)
		t.Repeat(map[string]func(*rapid.T){
			"edit":        m.edit,
			"sync":        m.sync,
			"deliverLate": m.deliverLate,
			"":            m.check,
		})
		m.quiesce(t)
	})
}

func TestSyncWireRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sys := crdttest.Simulate(t, cartType)
		c := rapid.SampledFrom(sys.Replicas).Draw(t, "cart")
		req := SyncRequest{Device: "d-0123456789abcdef", Context: c.Context(), Delta: c}
		b, err := req.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got SyncRequest
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got.Device != req.Device || !got.Context.Equal(&req.Context) || !got.Delta.Equal(c) {
			t.Fatal("request changed in a round trip")
		}
		cut := rapid.IntRange(0, len(b)-1).Draw(t, "cut")
		if err := new(SyncRequest).UnmarshalBinary(b[:cut]); err == nil {
			t.Fatalf("a request cut to %d of %d bytes decoded", cut, len(b))
		}
	})
}

func FuzzDecodeSyncRequest(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x94, 0x01, 0xa1, 'd', 0xc4, 0x00, 0xc4, 0x00})
	f.Add([]byte{0x94, 0x01, 0xa1, 'd', 0xc6, 0xff, 0xff, 0xff, 0xff})
	if b, err := (&SyncRequest{Device: "d-1", Delta: New()}).MarshalBinary(); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r SyncRequest
		if err := r.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var r2 SyncRequest
		if err := r2.UnmarshalBinary(again); err != nil {
			t.Fatalf("decode of a re-encoding: %v", err)
		}
	})
}

// TestChangesAgreesWithMerge: Changes reports exactly what Merge would, for
// any two reachable states, removes included.
func TestChangesAgreesWithMerge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sys := crdttest.Simulate(t, cartType)
		pool := append(append(append([]*Cart{}, sys.Replicas...), sys.Snapshots...), sys.Deltas...)
		c := rapid.SampledFrom(pool).Draw(t, "cart")
		delta := rapid.SampledFrom(pool).Draw(t, "delta")
		want := c.Clone().Merge(delta)
		if got := c.Changes(delta); got != want {
			t.Fatalf("Changes = %v, Merge reports %v", got, want)
		}
	})
}

// TestSyncAnswerSize: for a 10-line cart whose device is one change
// behind, the answer (the one change, the node's context and the seen
// dots) is much smaller than the cart. The sizes are logged for the docs.
func TestSyncAnswerSize(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	nodeClk, err := crdt.NewHLC("r-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	node := New()
	for i := range 10 {
		ts := nodeClk.Now(now)
		if _, err := node.Add(ts, fmt.Sprintf("item-%02d", i), 2); err != nil {
			t.Fatal(err)
		}
		if _, err := node.SetPrice(ts, fmt.Sprintf("item-%02d", i), int64(100+i)); err != nil {
			t.Fatal(err)
		}
	}
	device := node.Clone()
	if _, err := node.Add(nodeClk.Now(now), "item-03", 1); err != nil {
		t.Fatal(err)
	}
	ctx := device.Context()
	req, err := (&SyncRequest{Device: "d-0123456789abcdef", Context: ctx, Delta: New()}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	delta, seen := node.DeltaFor(&ctx)
	resp, err := (&SyncResponse{Delta: delta, Seen: seen}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	full, err := node.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10-line cart, device 1 change behind: request %d bytes, answer %d bytes, whole cart %d bytes", len(req), len(resp), len(full))
	if len(resp) >= len(full) {
		t.Errorf("answer of %d bytes is no smaller than the cart's %d", len(resp), len(full))
	}
	device.MergeDeltaFor(delta, &seen)
	if !device.Equal(node) {
		t.Fatal("the device did not reach the node's cart")
	}
}
