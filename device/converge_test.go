package device_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/device"
)

// converge is a rapid state machine of devices and nodes: devices edit,
// sync with random nodes over a network that loses requests and answers,
// edit while a sync is in flight, fail to save, and restart from their
// storage; nodes gossip now and then. The model is the join of every state
// any device ever held (which contains every edit): at the end, after
// reliable syncs, every device and every node must hold exactly it. Along
// the way: a failed sync or save changes nothing, a successful sync leaves
// pending only what was edited during it, and a restart loses nothing.
type converge struct {
	clock   *fakeClock
	nodes   []*fakeNode
	clients []*client.Client
	devices []*device.Device
	stores  []*failingStorage
	// model is, per cart, the join of every state a device held.
	model map[string]*cart.Cart
	// marks holds each device's clock after its last save, and saves the
	// save count then: every timestamp a device issued that can have left
	// it is at most its mark.
	marks []crdt.Timestamp
	saves []int
}

var (
	convergeCarts = []string{"c1", "c2"}
	convergeItems = []string{"apple", "pear", "kiwi"}
)

func (m *converge) init(t *rapid.T) {
	m.clock = newFakeClock()
	m.model = map[string]*cart.Cart{}
	for range rapid.IntRange(1, 3).Draw(t, "nodes") {
		n := newFakeNode()
		m.nodes = append(m.nodes, n)
		m.clients = append(m.clients, n.client(t))
	}
	for range rapid.IntRange(1, 3).Draw(t, "devices") {
		s := &failingStorage{}
		m.stores = append(m.stores, s)
		m.devices = append(m.devices, newTestDevice(t, s, m.clock))
		m.marks = append(m.marks, crdt.Timestamp{})
		m.saves = append(m.saves, s.Saves())
	}
}

// observe adds device i's replica of cartID to the model, after a
// successful change, and notes its clock when that saved.
func (m *converge) observe(i int, cartID string) {
	if n := m.stores[i].Saves(); n != m.saves[i] {
		m.marks[i], m.saves[i] = m.devices[i].Clock(), n
	}
	c := m.model[cartID]
	if c == nil {
		c = cart.New()
		m.model[cartID] = c
	}
	c.Merge(m.devices[i].CartState(cartID))
}

// randomEdit returns a random edit of cartID.
func randomEdit(t *rapid.T, cartID string) (string, func(d *device.Device) error) {
	item := rapid.SampledFrom(convergeItems).Draw(t, "item")
	switch rapid.IntRange(0, 5).Draw(t, "op") {
	case 0:
		n := rapid.Uint64Range(1, 3).Draw(t, "n")
		return fmt.Sprintf("add %s %d", item, n), func(d *device.Device) error { return d.Add(cartID, item, n, nil) }
	case 1:
		p := rapid.Int64Range(0, 500).Draw(t, "price")
		return fmt.Sprintf("add %s 1 at %d", item, p), func(d *device.Device) error { return d.Add(cartID, item, 1, &p) }
	case 2:
		q := rapid.Uint64Range(0, 5).Draw(t, "q")
		return fmt.Sprintf("set %s %d", item, q), func(d *device.Device) error { return d.SetQuantity(cartID, item, q) }
	case 3:
		p := rapid.Int64Range(0, 500).Draw(t, "price")
		return fmt.Sprintf("price %s %d", item, p), func(d *device.Device) error { return d.SetPrice(cartID, item, p) }
	case 4:
		return "remove " + item, func(d *device.Device) error { return d.Remove(cartID, item) }
	default:
		return "clear", func(d *device.Device) error { return d.Clear(cartID) }
	}
}

func (m *converge) Edit(t *rapid.T) {
	i := rapid.IntRange(0, len(m.devices)-1).Draw(t, "device")
	cartID := rapid.SampledFrom(convergeCarts).Draw(t, "cart")
	m.clock.advance(time.Duration(rapid.IntRange(-1000, 5000).Draw(t, "ms")) * time.Millisecond)
	d := m.devices[i]
	before, pending := d.CartState(cartID), d.Pending(cartID)
	what, edit := randomEdit(t, cartID)
	if err := edit(d); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	switch got := d.Pending(cartID); {
	case got == pending+1:
	case got == pending && d.CartState(cartID).Equal(before): // a remove of nothing
	default:
		t.Fatalf("%s: pending went from %d to %d", what, pending, got)
	}
	m.observe(i, cartID)
}

// FailedEdit: an edit whose save fails changes nothing.
func (m *converge) FailedEdit(t *rapid.T) {
	i := rapid.IntRange(0, len(m.devices)-1).Draw(t, "device")
	cartID := rapid.SampledFrom(convergeCarts).Draw(t, "cart")
	d := m.devices[i]
	before, pending := d.CartState(cartID), d.Pending(cartID)
	what, edit := randomEdit(t, cartID)
	m.stores[i].fail = true
	err := edit(d)
	m.stores[i].fail = false
	if err != nil && !errors.Is(err, errDiskFull) {
		t.Fatalf("%s: %v", what, err)
	}
	if !d.CartState(cartID).Equal(before) || d.Pending(cartID) != pending {
		t.Fatalf("%s: an edit that was not saved changed the device", what)
	}
}

func (m *converge) Sync(t *rapid.T) {
	i := rapid.IntRange(0, len(m.devices)-1).Draw(t, "device")
	j := rapid.IntRange(0, len(m.nodes)-1).Draw(t, "node")
	cartID := rapid.SampledFrom(convergeCarts).Draw(t, "cart")
	f := rapid.SampledFrom([]fate{deliver, deliver, loseRequest, loseAnswer}).Draw(t, "fate")
	d := m.devices[i]
	m.nodes[j].setFate(f)
	before, pending := d.CartState(cartID), d.Pending(cartID)
	err := d.Sync(context.Background(), m.clients[j], cartID)
	var apiErr *client.APIError
	switch {
	case err == nil && f == deliver:
		if got := d.Pending(cartID); got != 0 {
			t.Fatalf("got %d pending after a sync, want 0", got)
		}
		m.observe(i, cartID)
		return
	case errors.Is(err, client.ErrUnreachable) && f != deliver:
	case errors.As(err, &apiErr) && apiErr.StatusCode == 422:
		// The node has not yet seen a change of another replica that this
		// device's push covers; gossip will bring it.
	default:
		t.Fatalf("sync with fate %d: %v", f, err)
	}
	if !d.CartState(cartID).Equal(before) || d.Pending(cartID) != pending {
		t.Fatalf("a failed sync (%v) changed the device", err)
	}
}

// SyncWithEditInFlight: an edit made while the request is at the node
// stays pending after the sync.
func (m *converge) SyncWithEditInFlight(t *rapid.T) {
	i := rapid.IntRange(0, len(m.devices)-1).Draw(t, "device")
	j := rapid.IntRange(0, len(m.nodes)-1).Draw(t, "node")
	cartID := rapid.SampledFrom(convergeCarts).Draw(t, "cart")
	d := m.devices[i]
	what, edit := randomEdit(t, cartID)
	var editErr error
	edited := false
	m.nodes[j].onFlight(func() {
		pending := d.Pending(cartID)
		editErr = edit(d)
		edited = d.Pending(cartID) > pending
	})
	err := d.Sync(context.Background(), m.clients[j], cartID)
	m.nodes[j].onFlight(nil)
	if editErr != nil {
		t.Fatalf("%s during a sync: %v", what, editErr)
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == 422 {
		return // refused before the flight; the edit never ran
	}
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	want := 0
	if edited {
		want = 1
	}
	if got := d.Pending(cartID); got != want {
		t.Fatalf("%s during a sync: got %d pending after it, want %d", what, got, want)
	}
	m.observe(i, cartID)
}

// Check: a node never holds what no device had.
func (m *converge) Check(t *rapid.T) {
	for j, n := range m.nodes {
		for _, id := range convergeCarts {
			model := cart.New()
			if c := m.model[id]; c != nil {
				model = c.Clone()
			}
			if model.Merge(n.cart(id)) {
				t.Fatalf("node %d holds changes of cart %s no device made", j, id)
			}
		}
	}
}

func (m *converge) Gossip(t *rapid.T) {
	a := rapid.IntRange(0, len(m.nodes)-1).Draw(t, "to")
	b := rapid.IntRange(0, len(m.nodes)-1).Draw(t, "from")
	m.nodes[a].gossip(m.nodes[b])
}

// Restart reloads a device from its storage: the same ID, carts, pending
// changes and clock (at least), and the same bytes when saved again.
func (m *converge) Restart(t *rapid.T) {
	i := rapid.IntRange(0, len(m.devices)-1).Draw(t, "device")
	old := m.devices[i]
	saved := m.stores[i].Bytes()
	d := newTestDevice(t, m.stores[i], m.clock)
	if d.ID() != old.ID() {
		t.Fatalf("restart changed the ID from %s to %s", old.ID(), d.ID())
	}
	if !slices.Equal(d.Carts(), old.Carts()) {
		t.Fatalf("restart: got carts %q, want %q", d.Carts(), old.Carts())
	}
	for _, id := range old.Carts() {
		if !d.CartState(id).Equal(old.CartState(id)) || d.Pending(id) != old.Pending(id) {
			t.Fatalf("restart changed cart %s", id)
		}
	}
	// A failed save may have ticked the old clock further, harmlessly:
	// those readings never left the device.
	if d.Clock().Compare(m.marks[i]) < 0 {
		t.Fatalf("restart moved the clock back from %v to %v", m.marks[i], d.Clock())
	}
	if !slices.Equal(m.stores[i].Bytes(), saved) {
		t.Fatal("loading rewrote the state")
	}
	m.devices[i] = d
}

// quiesce makes every node and device reach the model: nodes gossip all
// to all, every device syncs every cart reliably, nodes gossip again, and
// every device syncs once more to learn the rest.
func (m *converge) quiesce(t *rapid.T) {
	gossipAll := func() {
		for range 2 {
			for _, a := range m.nodes {
				for _, b := range m.nodes {
					a.gossip(b)
				}
			}
		}
	}
	carts := slices.Sorted(maps.Keys(m.model))
	for round := range 2 {
		gossipAll()
		for i, d := range m.devices {
			for k, id := range carts {
				if err := d.Sync(context.Background(), m.clients[(i+k+round)%len(m.nodes)], id); err != nil {
					t.Fatalf("reliable sync of %s: %v", id, err)
				}
			}
		}
	}
	for _, id := range carts {
		want := m.model[id]
		for j, n := range m.nodes {
			if !n.cart(id).Equal(want) {
				t.Fatalf("node %d: cart %s is %q, want %q", j, id, lines(n.cart(id).View()), lines(want.View()))
			}
		}
		for i, d := range m.devices {
			if !d.CartState(id).Equal(want) {
				t.Fatalf("device %d: cart %s is %q, want %q", i, id, lines(d.View(id)), lines(want.View()))
			}
			if got := d.Pending(id); got != 0 {
				t.Fatalf("device %d: cart %s has %d pending after reliable syncs", i, id, got)
			}
		}
	}
}

func TestConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &converge{}
		m.init(t)
		t.Repeat(rapid.StateMachineActions(m))
		m.quiesce(t)
	})
}
