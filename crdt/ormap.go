package crdt

import (
	"fmt"
	"maps"
	"slices"
)

// ORMap is an observed-remove map from keys to dot stores that share the
// map's causal context.
//
// A key is present while its store holds at least one dot. Removing a key
// drops the dots the remover had observed under it; updates made
// concurrently, which the remover could not have observed, survive, and the
// key's value after the join is exactly what those updates made. This is the
// "reset-remove" map: it never resurrects the state a remove saw, unlike
// add-wins maps that keep the old value around a concurrent update.
//
// Deltas and full states are the same type: every mutator returns the small
// ORMap that, merged anywhere, has the mutation's effect.
//
// The zero value is an empty map ready to use. An ORMap is not safe for
// concurrent use.
type ORMap[K Key, V DotStore[V]] struct {
	ctx CausalContext
	// entries holds each key's store by pointer: a Go map copies and
	// clears its slots whole, and a store is several slices wide, so a map
	// of pointers costs a copy of the map (every edit makes one) a fifth
	// as much. A store in the map never changes: a change stores a new one.
	entries map[K]*V

	// index maps every dot in the stores to its key, so that merging a
	// small delta visits only the keys whose dots the delta's context
	// covers instead of every key. A dot belongs to one key forever, so an
	// entry is either exact or stale (its dot since removed); stale entries
	// cost an extra visit and are dropped by a rebuild once they outnumber
	// the live ones. nil means not built yet; Clone, CloneForKey and
	// decoding leave it nil.
	index     map[Dot]K
	indexLive int // dots in the stores at the last rebuild

	// ownKey is the key a copy from CloneForKey was made for.
	ownKey K
	// fresh is set by CloneForKey when the original has a dot index, and
	// cleared by any change that may touch a key but ownKey (any Merge,
	// Clear, an edit of another key) and by TakeOver: while set, m differs
	// from the map it was cloned from under ownKey only, and fresh collects
	// the dots m's own changes added there, all TakeOver must add to the
	// original's index to take it.
	fresh *[]Dot
	// shared is set by CloneForKey for stores that may merge in place
	// (not MergesByCopy): every store but ownKey's is shared with the map
	// it was cloned from, and must be copied before it changes.
	shared bool
	// (In this order, an ORMap of string keys fits the allocator's 80-byte
	// class: a write allocates several.)
}

// mergesByCopy reports whether V's stores never change in place, so that
// maps may share them.
func mergesByCopy[V any]() bool {
	var v V
	_, ok := any(v).(MergesByCopy)
	return ok
}

// own makes sure key k's store belongs to m before m changes it; changing
// any key but ownKey in a copy from CloneForKey first copies every shared
// store.
func (m *ORMap[K, V]) own(k K) {
	if k != m.ownKey {
		m.ownAll()
	}
}

// ownAll copies every store shared with another map, before a change that
// may touch any key.
func (m *ORMap[K, V]) ownAll() {
	m.fresh = nil
	if !m.shared {
		return
	}
	for k, v := range m.entries {
		if k != m.ownKey {
			m.entries[k] = ptr((*v).Clone())
		}
	}
	m.shared = false
}

// Len returns the number of keys present.
func (m *ORMap[K, V]) Len() int { return len(m.entries) }

// Has reports whether k is present.
func (m *ORMap[K, V]) Has(k K) bool {
	_, ok := m.entries[k]
	return ok
}

// Get returns a deep copy of k's store.
func (m *ORMap[K, V]) Get(k K) (V, bool) {
	v, ok := m.entries[k]
	if !ok {
		var zero V
		return zero, false
	}
	return (*v).Clone(), true
}

// Peek calls fn with k's store without copying it, and reports whether k is
// present. fn must neither modify nor retain the store.
func (m *ORMap[K, V]) Peek(k K, fn func(V)) bool {
	v, ok := m.entries[k]
	if ok {
		fn(*v)
	}
	return ok
}

// Each calls fn for every key and its store, in no particular order, until
// fn returns false. fn must neither modify nor retain the stores.
func (m *ORMap[K, V]) Each(fn func(K, V) bool) {
	for k, v := range m.entries {
		if !fn(k, *v) {
			return
		}
	}
}

// Keys returns the keys present, sorted.
func (m *ORMap[K, V]) Keys() []K { return slices.Sorted(maps.Keys(m.entries)) }

// Context returns a copy of the map's causal context.
func (m *ORMap[K, V]) Context() CausalContext { return m.ctx.Clone() }

// IsEmpty reports whether the map holds no keys and its causal context no
// dots: it has seen no change at all. It copies nothing, unlike a test of
// Len and Context.
func (m *ORMap[K, V]) IsEmpty() bool { return len(m.entries) == 0 && m.ctx.IsEmpty() }

// Contains reports whether the map's causal context has seen d.
func (m *ORMap[K, V]) Contains(d Dot) bool { return m.ctx.Contains(d) }

// MaxSeq returns the highest sequence number of replica r in the map's
// causal context, or 0.
func (m *ORMap[K, V]) MaxSeq(r ReplicaID) uint64 { return m.ctx.Max(r) }

// Mutation describes an update to one key, built by the function passed to
// [ORMap.Update]: the store of new dots to add, and the observed dots the
// update supersedes.
type Mutation[V any] struct {
	// Add holds only dots minted by the Next function handed to the update.
	Add V
	// Supersede lists dots of the key's current store that the update
	// replaces; they are removed everywhere the delta arrives.
	Supersede []Dot
}

// Update applies a mutation of key k made by replica id and returns its
// delta. fn receives the key's current store (read-only; empty if absent)
// and next, which mints fresh dots of id for the new entries. If fn needs a
// dot beyond [MaxSeq], Update returns [ErrSeqExhausted] and changes nothing.
func (m *ORMap[K, V]) Update(id ReplicaID, k K, fn func(cur V, next func() Dot) Mutation[V]) (*ORMap[K, V], error) {
	mustValid(id)
	m.own(k) // copies shared stores; no change of meaning, so harmless if Update fails
	cur := m.get(k)
	u := &update[K, V]{id: id, seq: m.ctx.Max(id)}
	mu := fn(cur, u.next)
	if u.exhausted {
		return nil, fmt.Errorf("%w: %s at %d", ErrSeqExhausted, id, m.ctx.Max(id))
	}
	delta := &u.delta
	for _, d := range mu.Supersede {
		delta.ctx.Add(d)
	}
	mu.Add.EachDot(u.minted)
	if !mu.Add.IsEmpty() {
		u.add = mu.Add
		delta.entries = map[K]*V{k: &u.add}
	}
	if supersedesOnly(cur, mu.Supersede) {
		m.mergeKey(k, delta)
	} else {
		m.Merge(delta) // a contract breach: stay exactly what peers will do
	}
	return delta, nil
}

// update is an Update's delta with what mints its dots, in one allocation
// (a write makes one Update, and each variable a closure shared would be
// an allocation of its own).
type update[K Key, V DotStore[V]] struct {
	delta     ORMap[K, V]
	add       V // the mutation's new store, the delta's one entry
	id        ReplicaID
	seq       uint64 // the last dot minted
	exhausted bool   // a dot past MaxSeq was asked for
}

// next mints the next dot of u's replica into the delta's context.
func (u *update[K, V]) next() Dot {
	if u.seq >= MaxSeq {
		u.exhausted = true
		return Dot{Replica: u.id, Seq: MaxSeq} // never applied: Update fails
	}
	u.seq++
	d := Dot{Replica: u.id, Seq: u.seq}
	u.delta.ctx.Add(d)
	return d
}

// minted panics unless d, a dot the mutation adds, is in the delta's
// context: minted by next (or superseded, which the join then drops).
func (u *update[K, V]) minted(d Dot) bool {
	if !u.delta.ctx.Contains(d) {
		panic(fmt.Sprintf("crdt: update added dot %v not minted by next", d))
	}
	return true
}

// supersedesOnly reports whether every dot in ds is a dot of cur.
func supersedesOnly[V DotStore[V]](cur V, ds []Dot) bool {
	if len(ds) == 0 {
		return true
	}
	if l, ok := any(cur).(DotLookup); ok {
		for _, d := range ds {
			if !l.Has(d) {
				return false
			}
		}
		return true
	}
	own := make(map[Dot]struct{})
	for d := range cur.EachDot {
		own[d] = struct{}{}
	}
	for _, d := range ds {
		if _, ok := own[d]; !ok {
			return false
		}
	}
	return true
}

// mergeKey is Merge for a delta whose dots all belong to key k: dots it
// mints, and dots of m's store under k. No other key can be affected, so it
// skips Merge's search for the keys holding the delta's dots, which on a
// map without its dot index (a fresh clone) would cost a pass over every
// dot of every key.
func (m *ORMap[K, V]) mergeKey(k K, delta *ORMap[K, V]) {
	dv := delta.get(k) // the empty store if the delta only supersedes
	nv, _ := m.get(k).MergeDots(&m.ctx, dv, &delta.ctx)
	m.store(k, nv)
	switch {
	case m.index != nil:
		for d := range dv.EachDot {
			m.index[d] = k
		}
	case m.fresh != nil && k == m.ownKey:
		for d := range dv.EachDot {
			*m.fresh = append(*m.fresh, d)
		}
	}
	m.ctx.Merge(&delta.ctx)
}

// Remove removes k, superseding every dot the map holds under it, and
// returns the delta. Removing an absent key returns an empty delta.
func (m *ORMap[K, V]) Remove(k K) (delta *ORMap[K, V]) {
	m.own(k)
	delta = &ORMap[K, V]{}
	if v, ok := m.entries[k]; ok {
		for d := range (*v).EachDot {
			delta.ctx.Add(d)
		}
	}
	m.mergeKey(k, delta)
	return delta
}

// Clear removes every key and returns the delta. Updates concurrent with
// the clear survive it.
func (m *ORMap[K, V]) Clear() (delta *ORMap[K, V]) {
	m.ownAll()
	delta = &ORMap[K, V]{}
	for _, v := range m.entries {
		for d := range (*v).EachDot {
			delta.ctx.Add(d)
		}
	}
	m.Merge(delta)
	return delta
}

// Merge joins o (a delta or a full state) into m and reports whether m
// changed. o is not modified, and m keeps no reference into it.
//
// Its cost is proportional to the size of o, plus the size of m when o's
// causal context is large (a full state): a delta merges in time
// independent of how many keys m holds.
func (m *ORMap[K, V]) Merge(o *ORMap[K, V]) (changed bool) {
	m.ownAll()
	for k, op := range o.entries {
		ov := *op
		nv, c := m.get(k).MergeDots(&m.ctx, ov, &o.ctx)
		changed = changed || c
		m.store(k, nv)
		if m.index != nil {
			for d := range ov.EachDot {
				m.index[d] = k
			}
		}
	}
	if !o.ctx.IsEmpty() {
		// Keys absent from o lose the dots o's context has seen.
		var empty V
		visit := func(k K, v V) {
			nv, c := v.MergeDots(&m.ctx, empty, &o.ctx)
			changed = changed || c
			m.store(k, nv)
		}
		if limit := len(m.entries) / 4; o.ctx.sizeAtMost(limit) {
			m.buildIndex()
			for d := range o.ctx.Dots {
				k, ok := m.index[d]
				if !ok {
					continue
				}
				if _, inO := o.entries[k]; inO {
					continue
				}
				if v, ok := m.entries[k]; ok {
					visit(k, *v)
				}
			}
		} else {
			for k, v := range m.entries {
				if _, ok := o.entries[k]; !ok {
					visit(k, *v)
				}
			}
		}
	}
	if m.ctx.Merge(&o.ctx) {
		changed = true
	}
	return changed
}

// buildIndex builds the dot index, or rebuilds it when stale entries have
// come to outnumber live ones.
func (m *ORMap[K, V]) buildIndex() {
	if m.index != nil && len(m.index) <= 2*m.indexLive+1024 {
		return
	}
	m.index = make(map[Dot]K, len(m.entries))
	for k, v := range m.entries {
		for d := range (*v).EachDot {
			m.index[d] = k
		}
	}
	m.indexLive = len(m.index)
}

// get returns k's store, or the empty store.
func (m *ORMap[K, V]) get(k K) V {
	if v, ok := m.entries[k]; ok {
		return *v
	}
	var zero V
	return zero
}

// store puts v under k, or removes k if v is empty.
func (m *ORMap[K, V]) store(k K, v V) {
	if v.IsEmpty() {
		delete(m.entries, k)
		return
	}
	if m.entries == nil {
		m.entries = make(map[K]*V)
	}
	m.entries[k] = &v
}

// ptr returns a pointer to a copy of v.
func ptr[V any](v V) *V { return &v }

// Clone returns a copy of m that shares nothing m can change: a deep copy,
// except that stores which merge by copy ([MergesByCopy]), and so never
// change, are shared.
func (m *ORMap[K, V]) Clone() *ORMap[K, V] {
	out := &ORMap[K, V]{ctx: m.ctx.Clone()}
	if len(m.entries) == 0 {
		return out
	}
	if mergesByCopy[V]() {
		out.entries = maps.Clone(m.entries)
		return out
	}
	out.entries = make(map[K]*V, len(m.entries))
	for k, v := range m.entries {
		out.entries[k] = ptr((*v).Clone())
	}
	return out
}

// CloneForKey returns a copy of m for an edit of key k, at a fraction of
// Clone's cost when stores may merge in place: the causal context and k's
// store are copied, and every other key's store is shared with m until the
// copy changes one of them, when the copy first takes its own copies of them
// all; m must not change while the copy is in use. Stores that merge by copy
// ([MergesByCopy]) are all shared, k's too, and m may change. Either way the
// copy can later replace m cheaply (TakeOver).
func (m *ORMap[K, V]) CloneForKey(k K) *ORMap[K, V] {
	m.ownAll()
	byCopy := mergesByCopy[V]()
	out := &ORMap[K, V]{ctx: m.ctx.Clone(), ownKey: k, shared: !byCopy}
	if m.index != nil {
		out.fresh = new([]Dot)
	}
	if len(m.entries) > 0 {
		out.entries = maps.Clone(m.entries)
		if v, ok := m.entries[k]; ok && !byCopy {
			out.entries[k] = ptr((*v).Clone())
		}
	}
	return out
}

// TakeOver lets m, a copy of orig made by CloneForKey and since changed
// under its own key only, replace orig, which must not have changed since
// the copy was made (a merge into it that changed nothing is allowed):
// the stores the two shared become m's alone, so that changing them no
// longer copies them all first, and m takes orig's dot index (adding the
// dots its own changes added) rather than building its own on the next
// merge. It costs the dots m's changes added, not the dots of its key: a
// line of many adds takes over in one step. Nothing may use orig
// afterwards. A Clone, a copy that has changed another key, or one of an
// original that had no index when copied (it may have built one since)
// keeps what it has.
func (m *ORMap[K, V]) TakeOver(orig *ORMap[K, V]) {
	fresh := m.fresh
	m.shared, m.fresh = false, nil
	if fresh == nil || orig.index == nil {
		return
	}
	m.index, m.indexLive = orig.index, orig.indexLive
	orig.index = nil
	for _, d := range *fresh {
		m.index[d] = m.ownKey
	}
}

// Equal reports whether m and o have the same causal context and the same
// stores under the same keys.
func (m *ORMap[K, V]) Equal(o *ORMap[K, V]) bool {
	if len(m.entries) != len(o.entries) || !m.ctx.Equal(&o.ctx) {
		return false
	}
	for k, v := range m.entries {
		ov, ok := o.entries[k]
		if !ok || !(*v).Equal(*ov) {
			return false
		}
	}
	return true
}

// MarshalBinary returns the canonical encoding of m: equal maps give equal
// bytes.
func (m *ORMap[K, V]) MarshalBinary() ([]byte, error) {
	e := newEncoder()
	m.encode(e)
	return e.bytes()
}

// encode writes m with e.
func (m *ORMap[K, V]) encode(e *Encoder) {
	e.ArrayLen(2)
	e.context(&m.ctx)
	e.ArrayLen(2 * len(m.entries))
	if len(m.entries) == 1 { // a delta's one key: nothing to sort
		for k, v := range m.entries {
			encodeScalar(e, k)
			(*v).EncodeStore(e)
		}
		return
	}
	for _, k := range m.Keys() {
		encodeScalar(e, k)
		(*m.entries[k]).EncodeStore(e)
	}
}

// UnmarshalBinary replaces m with the state encoded in b. It rejects, with
// an error wrapping ErrCorrupt or ErrVersion, any input MarshalBinary could
// not have produced, and leaves m unchanged on error.
func (m *ORMap[K, V]) UnmarshalBinary(b []byte) error {
	r, err := newReader("ormap", b)
	if err != nil {
		return err
	}
	out, err := decodeORMap[K, V](r)
	if err == nil {
		err = r.done()
	}
	if err != nil {
		return fmt.Errorf("decode ormap: %w", err)
	}
	*m = *out
	return nil
}

func decodeORMap[K Key, V DotStore[V]](r *Reader) (*ORMap[K, V], error) {
	n, err := r.ArrayLen(1)
	if err != nil {
		return nil, err
	}
	if n != 2 {
		return nil, r.corrupt("map has %d fields, want 2", n)
	}
	m := &ORMap[K, V]{}
	if m.ctx, err = r.context(); err != nil {
		return nil, err
	}
	n, err = r.ArrayLen(1)
	if err != nil {
		return nil, err
	}
	if n%2 != 0 {
		return nil, r.corrupt("map entries have odd length %d", n)
	}
	var zero V
	var prev K
	for i := range n / 2 {
		k, err := decodeScalar[K](r)
		if err != nil {
			return nil, err
		}
		if i > 0 && k <= prev {
			return nil, r.corrupt("map keys not strictly sorted")
		}
		prev = k
		v, err := zero.DecodeStore(r)
		if err != nil {
			return nil, err
		}
		if v.IsEmpty() {
			return nil, r.corrupt("empty store under key %v", k)
		}
		for d := range v.EachDot {
			if !m.ctx.Contains(d) {
				return nil, r.corrupt("dot %v under key %v missing from context", d, k)
			}
		}
		m.store(k, v)
	}
	return m, nil
}
