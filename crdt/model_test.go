package crdt_test

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

// Model tests: random histories over 3 to 5 replicas, with deltas delivered
// late, twice, out of order or never, and full-state merges. Every operation
// is an event in a global history; each replica tracks the set H of events it
// has seen, and after every step its value must equal the specification in
// the package doc evaluated on H:
//
//	GCounter    sum of the increments in H
//	PNCounter   increments minus decrements in H
//	LWWRegister the value of the write in H with the greatest Timestamp
//	ORSet       e present iff some add(e) in H is not observed by any
//	            remove(e) in H
//
// A message carries the events it summarises: a delta its own event (a
// counter delta, which is the replica's whole entry, also every earlier
// increment of that replica); a full state everything its sender had seen.
//
// "Observed" needs care once deliveries are not causal. A remove drops the
// dots its replica still held, so the events a remove observes are the adds
// that were live at its replica (present in its view of the set) when it
// ran; an add likewise observes, and supersedes, the live adds of its
// element. That is what the delta carries, and it is the relation the
// reference implementation (unique tags kept forever as tombstones) uses.
// When a replica's H is causally closed and every event in it was made by a
// replica whose own history was closed (the histories causal delivery gives),
// this coincides with the literal reading, "the add was in the remover's
// history when it removed", and the test checks that reading too. Under
// non-causal delivery the two can differ for a while, never after a full
// exchange of states.

type eventKind int

const (
	evGInc eventKind = iota
	evPInc
	evPDec
	evLWW
	evAdd
	evRemove
	evClear
)

type event struct {
	id      int
	replica int
	kind    eventKind
	n       uint64         // counters
	ts      crdt.Timestamp // LWW
	val     string         // LWW
	elem    string         // OR-Set add and remove
	obs     map[int]bool   // OR-Set: live adds this event observed
	past    map[int]bool   // the replica's H when the event happened
	causal  bool           // past was causally closed
	isSetOp bool
}

// message is a delta or a full state in flight, with the events it carries.
type message struct {
	carries map[int]bool
	full    bool
	g       *crdt.GCounter
	p       *crdt.PNCounter
	l       *crdt.LWWRegister[string]
	s       *crdt.ORSet[string]
	ref     *refSet
}

type modelReplica struct {
	id   crdt.ReplicaID
	clk  *crdt.HLC
	now  time.Time
	seen map[int]bool

	g   crdt.GCounter
	p   crdt.PNCounter
	l   crdt.LWWRegister[string]
	s   crdt.ORSet[string]
	ref refSet
}

type modelMachine struct {
	events []*event
	reps   []*modelReplica
	queue  []message
}

func newModelMachine(t *rapid.T) *modelMachine {
	n := rapid.IntRange(3, 5).Draw(t, "replicas")
	m := &modelMachine{}
	base := time.Unix(1_700_000_000, 0)
	for i := range n {
		clk, err := crdt.NewHLC(rid(i))
		if err != nil {
			t.Fatalf("NewHLC(%q): %v", rid(i), err)
		}
		skew := time.Duration(rapid.IntRange(-3, 3).Draw(t, "skew")) * time.Millisecond
		m.reps = append(m.reps, &modelReplica{id: rid(i), clk: clk, now: base.Add(skew), seen: map[int]bool{}})
	}
	return m
}

// newEvent records an event at replica i, with i's current history as its
// past, and adds it to that history.
func (m *modelMachine) newEvent(i int, kind eventKind) *event {
	r := m.reps[i]
	ev := &event{
		id:      len(m.events),
		replica: i,
		kind:    kind,
		past:    maps.Clone(r.seen),
		isSetOp: kind == evAdd || kind == evRemove || kind == evClear,
	}
	ev.causal = m.closed(ev.past)
	m.events = append(m.events, ev)
	r.seen[ev.id] = true
	return ev
}

// ownEvents returns the events of kind made at replica i: a counter delta
// carries all of them.
func (m *modelMachine) ownEvents(i int, kind eventKind) map[int]bool {
	out := map[int]bool{}
	for _, ev := range m.events {
		if ev.replica == i && ev.kind == kind {
			out[ev.id] = true
		}
	}
	return out
}

func (m *modelMachine) send(msg message) {
	if len(m.queue) < 64 {
		m.queue = append(m.queue, msg)
	}
}

// liveAdds returns the adds in h that no event in h observed.
func (m *modelMachine) liveAdds(h map[int]bool) map[int]bool {
	observed := map[int]bool{}
	for id := range h {
		for a := range m.events[id].obs {
			observed[a] = true
		}
	}
	live := map[int]bool{}
	for id := range h {
		if ev := m.events[id]; ev.kind == evAdd && !observed[id] {
			live[id] = true
		}
	}
	return live
}

// specSet is the OR-Set specification with the observed relation of the
// delivered state: e is present iff an add(e) in h is live.
func (m *modelMachine) specSet(h map[int]bool) []string {
	set := map[string]bool{}
	for id := range m.liveAdds(h) {
		set[m.events[id].elem] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// literalSet is the package doc's ORSet specification read literally: e is
// present iff some add(e) in h was not in the history of any remove(e) or
// clear in h.
func (m *modelMachine) literalSet(h map[int]bool) []string {
	set := map[string]bool{}
	for id := range h {
		a := m.events[id]
		if a.kind != evAdd {
			continue
		}
		observed := false
		for rid := range h {
			r := m.events[rid]
			if (r.kind == evClear || (r.kind == evRemove && r.elem == a.elem)) && r.past[id] {
				observed = true
				break
			}
		}
		if !observed {
			set[a.elem] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// closed reports whether h holds the past of every event in it, and every
// event in it was made from a causally closed past.
func (m *modelMachine) closed(h map[int]bool) bool {
	for id := range h {
		ev := m.events[id]
		if !ev.causal {
			return false
		}
		for p := range ev.past {
			if !h[p] {
				return false
			}
		}
	}
	return true
}

func (m *modelMachine) specCounters(h map[int]bool) (g uint64, p int64) {
	for id := range h {
		switch ev := m.events[id]; ev.kind {
		case evGInc:
			g += ev.n
		case evPInc:
			p += int64(ev.n)
		case evPDec:
			p -= int64(ev.n)
		}
	}
	return g, p
}

func (m *modelMachine) specLWW(h map[int]bool) (string, crdt.Timestamp, bool) {
	var best *event
	for id := range h {
		if ev := m.events[id]; ev.kind == evLWW && (best == nil || ev.ts.After(best.ts)) {
			best = ev
		}
	}
	if best == nil {
		return "", crdt.Timestamp{}, false
	}
	return best.val, best.ts, true
}

// tick advances replica i's physical clock by 0 to 3 ms.
func (m *modelMachine) tick(t *rapid.T, i int) {
	m.reps[i].now = m.reps[i].now.Add(time.Duration(rapid.IntRange(0, 3).Draw(t, "tick")) * time.Millisecond)
}

func (m *modelMachine) drawReplica(t *rapid.T, label string) int {
	return rapid.IntRange(0, len(m.reps)-1).Draw(t, label)
}

func (m *modelMachine) GInc(t *rapid.T) {
	i := m.drawReplica(t, "at")
	r := m.reps[i]
	n := rapid.Uint64Range(1, 5).Draw(t, "n")
	d, err := r.g.Inc(r.id, n)
	if err != nil {
		t.Fatalf("gcounter inc %d at %s: %v", n, r.id, err)
	}
	ev := m.newEvent(i, evGInc)
	ev.n = n
	m.send(message{carries: m.ownEvents(i, evGInc), g: d})
}

func (m *modelMachine) PNInc(t *rapid.T) {
	i := m.drawReplica(t, "at")
	r := m.reps[i]
	n := rapid.Uint64Range(1, 5).Draw(t, "n")
	kind := evPInc
	var d *crdt.PNCounter
	var err error
	if rapid.Bool().Draw(t, "dec") {
		kind = evPDec
		d, err = r.p.Dec(r.id, n)
	} else {
		d, err = r.p.Inc(r.id, n)
	}
	if err != nil {
		t.Fatalf("pncounter op %d at %s: %v", n, r.id, err)
	}
	ev := m.newEvent(i, kind)
	ev.n = n
	m.send(message{carries: m.ownEvents(i, kind), p: d})
}

func (m *modelMachine) LWWSet(t *rapid.T) {
	i := m.drawReplica(t, "at")
	r := m.reps[i]
	m.tick(t, i)
	v := rapid.SampledFrom([]string{"x", "y", "z"}).Draw(t, "value")
	ts := r.clk.Now(r.now)
	d := r.l.Set(ts, v)
	if got, _ := r.l.Value(); got != v {
		t.Fatalf("%s wrote %q at %v but reads %q: its clock did not pass a write it had seen", r.id, v, ts, got)
	}
	ev := m.newEvent(i, evLWW)
	ev.ts, ev.val = ts, v
	m.send(message{carries: map[int]bool{ev.id: true}, l: d})
}

func (m *modelMachine) SetAdd(t *rapid.T) {
	i := m.drawReplica(t, "at")
	r := m.reps[i]
	e := drawElem(t)
	obs := m.liveOf(r.seen, e)
	d := noErr(r.s.Add(r.id, e))
	ev := m.newEvent(i, evAdd)
	ev.elem, ev.obs = e, obs
	rd := r.ref.add(e, ev.id, obs)
	m.send(message{carries: map[int]bool{ev.id: true}, s: d, ref: rd})
}

func (m *modelMachine) SetRemove(t *rapid.T) {
	i := m.drawReplica(t, "at")
	r := m.reps[i]
	e := drawElem(t)
	obs := m.liveOf(r.seen, e)
	d := r.s.Remove(e)
	ev := m.newEvent(i, evRemove)
	ev.elem, ev.obs = e, obs
	rd := r.ref.remove(obs)
	m.send(message{carries: map[int]bool{ev.id: true}, s: d, ref: rd})
}

func (m *modelMachine) SetClear(t *rapid.T) {
	i := m.drawReplica(t, "at")
	r := m.reps[i]
	obs := m.liveAdds(r.seen)
	d := r.s.Clear()
	ev := m.newEvent(i, evClear)
	ev.obs = obs
	rd := r.ref.remove(obs)
	m.send(message{carries: map[int]bool{ev.id: true}, s: d, ref: rd})
}

// liveOf returns the live adds of e in h.
func (m *modelMachine) liveOf(h map[int]bool, e string) map[int]bool {
	out := map[int]bool{}
	for id := range m.liveAdds(h) {
		if m.events[id].elem == e {
			out[id] = true
		}
	}
	return out
}

// Snapshot queues replica i's full state, to be delivered later, perhaps
// after newer deltas.
func (m *modelMachine) Snapshot(t *rapid.T) {
	m.send(m.fullState(m.drawReplica(t, "from")))
}

func (m *modelMachine) fullState(i int) message {
	r := m.reps[i]
	return message{
		carries: maps.Clone(r.seen),
		full:    true,
		g:       r.g.Clone(),
		p:       r.p.Clone(),
		l:       r.l.Clone(),
		s:       r.s.Clone(),
		ref:     r.ref.clone(),
	}
}

// Deliver merges a queued message at a random replica. It stays queued
// half the time, to be delivered again.
func (m *modelMachine) Deliver(t *rapid.T) {
	if len(m.queue) == 0 {
		t.Skip("nothing queued")
	}
	k := rapid.IntRange(0, len(m.queue)-1).Draw(t, "msg")
	msg := m.queue[k]
	if rapid.Bool().Draw(t, "consume") {
		m.queue = slices.Delete(m.queue, k, k+1)
	}
	m.deliver(t, m.drawReplica(t, "to"), msg)
}

// Drop loses a queued message.
func (m *modelMachine) Drop(t *rapid.T) {
	if len(m.queue) == 0 {
		t.Skip("nothing queued")
	}
	k := rapid.IntRange(0, len(m.queue)-1).Draw(t, "msg")
	m.queue = slices.Delete(m.queue, k, k+1)
}

// Sync merges the current full state of one replica into another.
func (m *modelMachine) Sync(t *rapid.T) {
	from, to := m.drawReplica(t, "from"), m.drawReplica(t, "to")
	m.deliver(t, to, m.fullState(from))
}

func (m *modelMachine) deliver(t *rapid.T, i int, msg message) {
	r := m.reps[i]
	before := encodeMessage(t, msg)
	if msg.g != nil {
		r.g.Merge(msg.g)
	}
	if msg.p != nil {
		r.p.Merge(msg.p)
	}
	if msg.l != nil {
		r.l.Merge(msg.l)
		if ts := msg.l.Timestamp(); !ts.IsZero() {
			r.clk.Observe(ts)
		}
	}
	if msg.s != nil {
		r.s.Merge(msg.s)
		r.ref.merge(msg.ref)
	}
	if !bytes.Equal(encodeMessage(t, msg), before) {
		t.Fatalf("merging a message into %s modified the message", r.id)
	}
	for id := range msg.carries {
		r.seen[id] = true
	}
}

func encodeMessage(t *rapid.T, msg message) []byte {
	var out []byte
	for _, s := range []interface{ MarshalBinary() ([]byte, error) }{msg.g, msg.p, msg.l, msg.s} {
		if s == nil || isNilState(s) {
			continue
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		out = append(out, b...)
	}
	return out
}

func isNilState(s any) bool {
	switch v := s.(type) {
	case *crdt.GCounter:
		return v == nil
	case *crdt.PNCounter:
		return v == nil
	case *crdt.LWWRegister[string]:
		return v == nil
	case *crdt.ORSet[string]:
		return v == nil
	}
	return false
}

// Check is the invariant: every replica reads what the specification gives
// for its history, and the OR-Set agrees with the reference.
func (m *modelMachine) Check(t *rapid.T) {
	for _, r := range m.reps {
		m.checkReplica(t, r)
	}
}

func (m *modelMachine) checkReplica(t *rapid.T, r *modelReplica) {
	wantG, wantP := m.specCounters(r.seen)
	if got, err := r.g.Value(); err != nil || got != wantG {
		t.Fatalf("%s: gcounter got %d (err %v), want %d", r.id, got, err, wantG)
	}
	if got, err := r.p.Value(); err != nil || got != wantP {
		t.Fatalf("%s: pncounter got %d (err %v), want %d", r.id, got, err, wantP)
	}
	wantV, wantTS, wantOK := m.specLWW(r.seen)
	if got, ok := r.l.Value(); got != wantV || ok != wantOK || r.l.Timestamp() != wantTS {
		t.Fatalf("%s: lww got %q@%v (set %v), want %q@%v (set %v)", r.id, got, r.l.Timestamp(), ok, wantV, wantTS, wantOK)
	}
	want := m.specSet(r.seen)
	if got := r.s.Elements(); !slices.Equal(got, want) {
		t.Fatalf("%s: orset got %q, want %q (history %v)", r.id, got, want, slices.Sorted(maps.Keys(r.seen)))
	}
	if got := r.ref.elements(); !slices.Equal(got, want) {
		t.Fatalf("%s: reference orset got %q, want %q", r.id, got, want)
	}
	for _, e := range elements {
		if got := r.s.Contains(e); got != slices.Contains(want, e) {
			t.Fatalf("%s: Contains(%q) = %v, want %v", r.id, e, got, !got)
		}
	}
	if m.closed(r.seen) {
		if lit := m.literalSet(r.seen); !slices.Equal(lit, want) {
			t.Fatalf("%s: causal history, orset got %q, want %q (the literal meaning of the spec)", r.id, want, lit)
		}
	}
}

// quiesce runs full anti-entropy: every replica ends with every event, all
// states are Equal and encode to the same bytes, and the values match the
// specification over the whole history.
func (m *modelMachine) quiesce(t *rapid.T) {
	for i := range m.reps {
		m.deliver(t, 0, m.fullState(i))
	}
	for i := 1; i < len(m.reps); i++ {
		m.deliver(t, i, m.fullState(0))
	}
	m.Check(t)
	first := m.reps[0]
	want := encodeMessage(t, m.fullState(0))
	for _, r := range m.reps[1:] {
		if len(r.seen) != len(m.events) {
			t.Fatalf("%s saw %d of %d events after full exchange", r.id, len(r.seen), len(m.events))
		}
		if !r.g.Equal(&first.g) || !r.p.Equal(&first.p) || !r.l.Equal(&first.l) || !r.s.Equal(&first.s) {
			t.Fatalf("%s not Equal to %s after full exchange", r.id, first.id)
		}
		if got := encodeMessage(t, m.fullState(indexOf(m.reps, r))); !bytes.Equal(got, want) {
			t.Fatalf("%s encodes to %x, want %x", r.id, got, want)
		}
	}
}

func indexOf(reps []*modelReplica, r *modelReplica) int {
	return slices.Index(reps, r)
}

func TestModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newModelMachine(t)
		t.Repeat(map[string]func(*rapid.T){
			"gcounter":  m.GInc,
			"pncounter": m.PNInc,
			"lww":       m.LWWSet,
			"add":       m.SetAdd,
			"add2":      m.SetAdd,
			"remove":    m.SetRemove,
			"clear":     m.SetClear,
			"snapshot":  m.Snapshot,
			"deliver":   m.Deliver,
			"deliver2":  m.Deliver,
			"deliver3":  m.Deliver,
			"drop":      m.Drop,
			"sync":      m.Sync,
			"":          m.Check,
		})
		m.quiesce(t)
	})
}

// refSet is the naive OR-Set the optimized one is compared with: every add
// gets a unique tag (its event id), a remove tombstones the tags it
// observed, and both are kept forever. An add observes, and tombstones, the
// live tags of its element, as the optimized add supersedes them.
type refSet struct {
	adds       map[int]string // tag -> element
	tombstones map[int]bool
}

func (s *refSet) add(e string, tag int, observed map[int]bool) *refSet {
	d := &refSet{adds: map[int]string{tag: e}, tombstones: maps.Clone(observed)}
	s.merge(d)
	return d
}

func (s *refSet) remove(observed map[int]bool) *refSet {
	d := &refSet{tombstones: maps.Clone(observed)}
	s.merge(d)
	return d
}

func (s *refSet) merge(o *refSet) {
	if s.adds == nil {
		s.adds, s.tombstones = map[int]string{}, map[int]bool{}
	}
	maps.Copy(s.adds, o.adds)
	maps.Copy(s.tombstones, o.tombstones)
}

func (s *refSet) clone() *refSet {
	return &refSet{adds: maps.Clone(s.adds), tombstones: maps.Clone(s.tombstones)}
}

func (s *refSet) elements() []string {
	set := map[string]bool{}
	for tag, e := range s.adds {
		if !s.tombstones[tag] {
			set[e] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// The reference's tombstones are the observed adds the model computed; make
// sure the model and the reference were not fed the same mistake by checking
// the reference against hand-worked histories.
func TestRefSet(t *testing.T) {
	var a, b refSet
	d1 := a.add("x", 1, nil)
	b.merge(d1)
	d2 := b.remove(map[int]bool{1: true})
	d3 := a.add("x", 2, map[int]bool{1: true}) // concurrent with the remove
	a.merge(d2)
	b.merge(d3)
	for _, s := range []*refSet{&a, &b} {
		if got := fmt.Sprint(s.elements()); got != "[x]" {
			t.Errorf("got %s, want [x]: the concurrent add wins", got)
		}
	}
}
