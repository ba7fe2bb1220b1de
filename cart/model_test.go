package cart

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/crdt"
)

// This file checks the cart against its specification (the package doc and
// docs/semantics.md), written directly over causal histories, under random
// multi-replica runs with lossy, duplicating, reordering delivery, full syncs
// and restarts.

type opKind int

const (
	opAdd opKind = iota
	opSet
	opRemove
	opPrice
	opClear
)

// event is one operation in the run, with the events it observed: those of
// its replica's history that were still in effect when it acted.
//
// With causal delivery (full-state exchange) that is simply "the replica had
// them in its history": an event already superseded there is superseded on
// every replica that has the superseder too. Deltas may arrive out of order,
// though, and then a history need not be causally closed: a remove's delta
// can reach a replica before the earlier remove that took the add away. The
// delta carries what its remove observed in effect, and so does this model.
type event struct {
	id     int
	kind   opKind
	item   string
	n      uint64 // add amount, or set quantity
	cents  int64
	ts     crdt.Timestamp
	before map[int]bool // events in the replica's history when it acted
}

// covers reports whether e supersedes item-level events of x of the kinds
// that it replaces: a set replaces adds and sets, a remove or clear replaces
// everything.
func (e *event) covers(x string, kind opKind) bool {
	switch e.kind {
	case opClear:
		return true
	case opRemove:
		return e.item == x
	case opSet:
		return e.item == x && (kind == opAdd || kind == opSet)
	case opPrice:
		return e.item == x && kind == opPrice
	}
	return false
}

// inEffect returns the events of h that no other event of h observed and
// replaced.
func inEffect(events []*event, h map[int]bool) map[int]bool {
	out := map[int]bool{}
	for id := range h {
		f := events[id]
		live := true
		for cid := range h {
			if c := events[cid]; c != f && c.covers(f.item, f.kind) && c.before[f.id] {
				live = false
				break
			}
		}
		if live {
			out[id] = true
		}
	}
	return out
}

// specLine evaluates quantity and price of x over history h; priced is
// false when no setPrice of x is in effect.
func specLine(events []*event, h map[int]bool, x string) (qty uint64, cents int64, priced bool) {
	observed := func(f *event) bool {
		for id := range h {
			if c := events[id]; c != f && c.covers(x, f.kind) && c.before[f.id] {
				return true
			}
		}
		return false
	}
	var bestSet, bestPrice crdt.Timestamp
	var base uint64
	for id := range h {
		e := events[id]
		if e.item != x {
			continue
		}
		switch e.kind {
		case opAdd:
			if !observed(e) {
				qty += e.n
			}
		case opSet:
			if !observed(e) && e.ts.After(bestSet) {
				bestSet, base = e.ts, e.n
			}
		case opPrice:
			if !observed(e) && e.ts.After(bestPrice) {
				bestPrice, cents, priced = e.ts, e.cents, true
			}
		}
	}
	return base + qty, cents, priced
}

// specView evaluates the whole cart over h as the lines people see.
func specView(events []*event, h map[int]bool) []Line {
	items := map[string]bool{}
	for id := range h {
		if it := events[id].item; it != "" {
			items[it] = true
		}
	}
	var lines []Line
	for _, x := range slices.Sorted(maps.Keys(items)) {
		q, cents, priced := specLine(events, h, x)
		if q > 0 {
			lines = append(lines, Line{Item: x, Quantity: q, UnitPriceCents: cents, SubtotalCents: int64(q) * cents, Priced: priced})
		}
	}
	return lines
}

type modelReplica struct {
	cart    *Cart
	clock   *crdt.HLC
	now     time.Time
	history map[int]bool
}

// message is a delta or a state in flight, with the events it carries.
type message struct {
	payload *Cart
	events  []int
}

type cartMachine struct {
	events   []*event
	replicas []*modelReplica
	inflight []message
}

func newCartMachine(t *rapid.T) *cartMachine {
	m := &cartMachine{}
	n := rapid.IntRange(3, 5).Draw(t, "replicas")
	base := time.Unix(1_800_000_000, 0)
	for i := range n {
		clk, err := crdt.NewHLC(crdt.ReplicaID(fmt.Sprintf("dev%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		skew := time.Duration(rapid.IntRange(-20, 20).Draw(t, "skew")) * time.Millisecond
		m.replicas = append(m.replicas, &modelReplica{cart: New(), clock: clk, now: base.Add(skew), history: map[int]bool{}})
	}
	return m
}

func (m *cartMachine) receive(r *modelReplica, msg message) {
	r.cart.Merge(msg.payload)
	r.clock.Observe(msg.payload.Latest())
	for _, id := range msg.events {
		r.history[id] = true
	}
}

func (m *cartMachine) Op(t *rapid.T) {
	r := rapid.SampledFrom(m.replicas).Draw(t, "at")
	r.now = r.now.Add(time.Duration(rapid.IntRange(0, 5).Draw(t, "tick")) * time.Millisecond)
	ts := r.clock.Now(r.now)
	e := &event{
		id:     len(m.events),
		kind:   drawKind(t),
		item:   drawItem(t),
		ts:     ts,
		before: inEffect(m.events, r.history),
	}
	var delta *Cart
	var err error
	switch e.kind {
	case opAdd:
		e.n = uint64(rapid.IntRange(1, 3).Draw(t, "n"))
		delta, err = r.cart.Add(ts, e.item, e.n)
	case opSet:
		e.n = uint64(rapid.IntRange(0, 4).Draw(t, "q"))
		delta, err = r.cart.SetQuantity(ts, e.item, e.n)
		if e.n == 0 {
			e.kind = opRemove
		}
	case opRemove:
		delta, err = r.cart.Remove(e.item)
	case opPrice:
		e.cents = int64(rapid.IntRange(0, 500).Draw(t, "cents"))
		delta, err = r.cart.SetPrice(ts, e.item, e.cents)
	case opClear:
		e.item = ""
		delta = r.cart.Clear()
	}
	if err != nil {
		t.Fatalf("op %+v: %v", e, err)
	}
	m.events = append(m.events, e)
	r.history[e.id] = true
	m.inflight = append(m.inflight, message{payload: delta, events: []int{e.id}})
}

func (m *cartMachine) Deliver(t *rapid.T) {
	if len(m.inflight) == 0 {
		t.Skip("nothing in flight")
	}
	i := rapid.IntRange(0, len(m.inflight)-1).Draw(t, "msg")
	msg := m.inflight[i]
	if !rapid.Bool().Draw(t, "keep for duplicate delivery") {
		m.inflight = slices.Delete(m.inflight, i, i+1)
	}
	m.receive(rapid.SampledFrom(m.replicas).Draw(t, "to"), message{payload: msg.payload.Clone(), events: msg.events})
}

func (m *cartMachine) Drop(t *rapid.T) {
	if len(m.inflight) == 0 {
		t.Skip("nothing in flight")
	}
	i := rapid.IntRange(0, len(m.inflight)-1).Draw(t, "msg")
	m.inflight = slices.Delete(m.inflight, i, i+1)
}

func (m *cartMachine) Sync(t *rapid.T) {
	from := rapid.SampledFrom(m.replicas).Draw(t, "from")
	to := rapid.SampledFrom(m.replicas).Draw(t, "to")
	m.receive(to, message{payload: from.cart.Clone(), events: slices.Collect(maps.Keys(from.history))})
}

// Restart reloads a replica from its encoding, as a daemon does after a
// crash: nothing may change.
func (m *cartMachine) Restart(t *rapid.T) {
	r := rapid.SampledFrom(m.replicas).Draw(t, "restart")
	b, err := r.cart.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := New()
	if err := c.UnmarshalBinary(b); err != nil {
		t.Fatalf("reload %x: %v", b, err)
	}
	if !c.Equal(r.cart) {
		t.Fatalf("reloaded cart differs from the one saved")
	}
	r.cart = c
}

// Check compares every replica's view with the specification over its own
// history.
func (m *cartMachine) Check(t *rapid.T) {
	for i, r := range m.replicas {
		checkView(t, fmt.Sprintf("replica %d", i), r.cart, specView(m.events, r.history))
	}
}

func checkView(t *rapid.T, who string, c *Cart, want []Line) {
	checkTallies(t, who, c)
	got := c.View()
	if got.Overflow {
		t.Fatalf("%s view overflowed: %+v", who, got)
	}
	if !slices.Equal(got.Lines, want) {
		t.Fatalf("%s: got %+v, want %+v", who, got.Lines, want)
	}
}

// quiesce runs full anti-entropy and requires every replica to be equal,
// byte for byte, and to show the specification over all events.
func (m *cartMachine) quiesce(t *rapid.T) {
	for _, a := range m.replicas {
		for _, b := range m.replicas {
			m.receive(b, message{payload: a.cart.Clone(), events: slices.Collect(maps.Keys(a.history))})
		}
	}
	want, err := m.replicas[0].cart.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range m.replicas {
		if !r.cart.Equal(m.replicas[0].cart) {
			t.Fatalf("replica %d differs from replica 0 after full exchange", i)
		}
		b, err := r.cart.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("replica %d encodes to %x, want %x", i, b, want)
		}
	}
	all := map[int]bool{}
	for id := range m.events {
		all[id] = true
	}
	checkView(t, "converged", m.replicas[0].cart, specView(m.events, all))
}

func TestCartMatchesSpecification(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newCartMachine(t)
		t.Repeat(map[string]func(*rapid.T){
			"op":      m.Op,
			"deliver": m.Deliver,
			"drop":    m.Drop,
			"sync":    m.Sync,
			"restart": m.Restart,
			"":        m.Check,
		})
		m.quiesce(t)
	})
}

// TestSingleReplicaMatchesSequentialModel compares one replica with a plain
// map-based cart, the behaviour people expect without concurrency.
func TestSingleReplicaMatchesSequentialModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		clk, _ := crdt.NewHLC("solo")
		now := time.Unix(1_800_000_000, 0)
		c := New()
		qty := map[string]uint64{}
		price := map[string]int64{}
		for range rapid.IntRange(0, 60).Draw(t, "ops") {
			now = now.Add(time.Millisecond)
			ts := clk.Now(now)
			item := rapid.SampledFrom([]string{"a", "b", "c", "d"}).Draw(t, "item")
			var err error
			switch rapid.IntRange(0, 4).Draw(t, "kind") {
			case 0:
				n := uint64(rapid.IntRange(1, 9).Draw(t, "n"))
				_, err = c.Add(ts, item, n)
				qty[item] += n
			case 1:
				q := uint64(rapid.IntRange(0, 9).Draw(t, "q"))
				_, err = c.SetQuantity(ts, item, q)
				qty[item] = q
				if q == 0 {
					delete(price, item)
				}
			case 2:
				_, err = c.Remove(item)
				delete(qty, item)
				delete(price, item)
			case 3:
				cents := int64(rapid.IntRange(0, 999).Draw(t, "cents"))
				_, err = c.SetPrice(ts, item, cents)
				price[item] = cents
			case 4:
				c.Clear()
				clear(qty)
				clear(price)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		var want []Line
		for _, x := range slices.Sorted(maps.Keys(qty)) {
			if qty[x] > 0 {
				_, priced := price[x]
				want = append(want, Line{Item: x, Quantity: qty[x], UnitPriceCents: price[x], SubtotalCents: int64(qty[x]) * price[x], Priced: priced})
			}
		}
		checkView(t, "solo", c, want)
	})
}
