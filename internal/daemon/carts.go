package daemon

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
	"github.com/google/btree"
)

// maxObjects bounds how many carts a node accepts from peers, so that a
// peer cannot exhaust memory by inventing carts.
const maxObjects = 2_000_000

var (
	errUnknownKey  = errors.New("unknown object key")
	errTooManyObjs = errors.New("too many objects")
)

// object is one cart and the lock that serializes this node's own writes to
// it across apply, log and acknowledge.
type object struct {
	// writeMu is held by a local write from before it reads the cart until
	// after its delta is applied in memory, so two local writes never mint
	// the same dot. Remote merges do not take it.
	writeMu sync.Mutex

	// Guarded by carts.mu.
	cart *cart.Cart
	enc  []byte // canonical encoding of cart, nil when stale; never modified
	// changes counts the changes installed or merged into cart since the
	// node started: the id of the cart's events (events.go).
	changes uint64
}

// encodingLocked returns o's canonical encoding, reusing the cached one:
// gossip's digest and the persister need the same bytes until the cart
// changes again.
func (o *object) encodingLocked() ([]byte, error) {
	if o.enc == nil {
		b, err := o.cart.MarshalBinary()
		if err != nil {
			return nil, err
		}
		o.enc = b
	}
	return o.enc, nil
}

// carts holds every cart in memory, and the set of carts changed since they
// were last written to the data file. Local writes edit and install here;
// remote deltas and repairs merge here. It is safe for concurrent use.
type carts struct {
	self    crdt.ReplicaID // this node's replica: only it mints its dots
	clock   *nodeClock
	metrics *metrics
	// changed is called, outside the lock, after a local write or device
	// sync was installed in cart id (merged false) or a peer's state or
	// delta changed it (merged true): the node wakes the cart's event
	// streams, and persists a merged cart soon. It must not block: merge
	// runs inside gossip callbacks.
	changed func(id string, merged bool)

	// mu guards the fields below and every object's cart.
	mu  sync.Mutex
	all map[string]*object // by cart ID
	// listed holds, in order, the IDs of the carts with at least one line
	// people see: /v1/carts pages through it, and its size is the count
	// /v1/status reports, both without scanning every cart. Every change
	// of a cart updates it (noteLocked).
	listed *btree.BTreeG[string]
	// dirty holds the IDs of carts changed, by peers or by installed local
	// writes, since they were last written to the data file.
	dirty map[string]struct{}
}

func newCarts(self crdt.ReplicaID, clock *nodeClock, m *metrics, changed func(id string, merged bool)) *carts {
	return &carts{
		self:    self,
		clock:   clock,
		metrics: m,
		changed: changed,
		all:     make(map[string]*object),
		dirty:   make(map[string]struct{}),
		listed:  btree.NewOrderedG[string](32),
	}
}

// noteLocked records whether cart id has lines people see, after a change
// to it. The caller holds cs.mu.
func (cs *carts) noteLocked(id string, o *object) {
	if o.cart.HasItems() {
		cs.listed.ReplaceOrInsert(id)
	} else {
		cs.listed.Delete(id)
	}
}

// object returns the object for a cart, creating an empty one.
func (cs *carts) object(id string) *object {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.objectLocked(id)
}

func (cs *carts) objectLocked(id string) *object {
	o := cs.all[id]
	if o == nil {
		o = &object{cart: cart.New()}
		cs.all[id] = o
	}
	return o
}

// view returns a cart's current view (empty for an unknown cart).
func (cs *carts) view(id string) cart.View {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	o := cs.all[id]
	if o == nil {
		return cart.View{Lines: []cart.Line{}}
	}
	return o.cart.View()
}

// versionedView returns a cart's current view and how many changes it has
// had on this node, read together, so that an event stream can tell
// whether it has sent this view already.
func (cs *carts) versionedView(id string) (cart.View, uint64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	o := cs.all[id]
	if o == nil {
		return cart.View{Lines: []cart.Line{}}, 0
	}
	return o.cart.View(), o.changes
}

// page returns up to limit IDs of carts with at least one visible line,
// in order, starting after the ID after ("" starts at the first), and
// whether more follow.
func (cs *carts) page(after string, limit int) (ids []string, more bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	ids = make([]string, 0, min(limit, cs.listed.Len()))
	cs.listed.AscendGreaterOrEqual(after, func(id string) bool {
		if id == after {
			return true
		}
		if len(ids) == limit {
			more = true
			return false
		}
		ids = append(ids, id)
		return true
	})
	return ids, more
}

// counts returns how many carts have lines people see, and how many carts
// are held in all (including carts whose lines were all removed: their
// causal context keeps what was removed, so that a stale peer cannot bring
// the lines back).
func (cs *carts) counts() (withItems, held int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.listed.Len(), len(cs.all)
}

// count returns the number of carts held, including empty ones.
func (cs *carts) count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.all)
}

// merge merges a cart state or delta from a peer.
func (cs *carts) merge(id string, data []byte, info gossip.MergeInfo) (bool, error) {
	if err := cart.ValidItemID(id); err != nil {
		cs.metrics.decodeErrors.WithLabelValues("gossip").Inc()
		return false, fmt.Errorf("cart id: %v", err)
	}
	in := cart.New()
	if err := in.UnmarshalBinary(data); err != nil {
		cs.metrics.decodeErrors.WithLabelValues("gossip").Inc()
		return false, err
	}
	latest := in.Latest()
	if err := cs.clock.checkRemote(latest); err != nil {
		return false, err
	}
	cs.mu.Lock()
	o, created := cs.all[id], false
	if o == nil {
		if len(cs.all) >= maxObjects {
			cs.mu.Unlock()
			return false, fmt.Errorf("%w: %d carts", errTooManyObjs, maxObjects)
		}
		o, created = cs.objectLocked(id), true
	}
	// Only this node mints its own dots, and it sends none before it holds
	// them: state claiming more of them is forged or corrupt. Taking it
	// would make this node's next write reuse a dot peers already hold (the
	// write would be silently dropped everywhere) or, near the counter's
	// end, refuse every write to the cart.
	if claimed, issued := in.MaxSeq(cs.self), o.cart.MaxSeq(cs.self); claimed > issued {
		if created {
			delete(cs.all, id) // no one else has seen it: cs.mu was held
		}
		cs.mu.Unlock()
		cs.metrics.rejected.WithLabelValues("own_dots_forged").Inc()
		return false, fmt.Errorf("cart %s: state claims change %d of this node's replica, which issued only %d", id, claimed, issued)
	}
	changed := o.cart.Merge(in)
	if changed {
		o.enc = nil
		o.changes++
		cs.dirty[id] = struct{}{}
		cs.noteLocked(id, o)
	}
	cs.mu.Unlock()
	if !latest.IsZero() {
		cs.clock.observe(latest)
	}
	if changed {
		cs.changed(id, true)
		cs.metrics.merged.WithLabelValues(info.Channel.String()).Inc()
		if info.Channel == gossip.ChannelDelta && !info.OriginTime.IsZero() {
			cs.metrics.replicationLag.Observe(max(0, cs.clock.now().Sub(info.OriginTime).Seconds()))
		}
	}
	return changed, nil
}

// state returns the canonical encoding of a cart, if it holds anything.
func (cs *carts) state(id string) ([]byte, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	o := cs.all[id]
	if o == nil || o.cart.IsEmpty() {
		return nil, false
	}
	b, err := o.encodingLocked()
	if err != nil {
		return nil, false
	}
	return b, true
}

// eachID calls fn with the ID of every cart held, on a snapshot, until fn
// returns false.
func (cs *carts) eachID(fn func(id string) bool) {
	cs.mu.Lock()
	ids := slices.Collect(maps.Keys(cs.all))
	cs.mu.Unlock()
	for _, id := range ids {
		if !fn(id) {
			return
		}
	}
}

// takeDirty returns the encodings of the carts changed since the last call,
// keyed by object key, for writing to the data file. A local write marks
// its cart only once its delta is installed, so a checkpoint that calls
// this after the write's log record was released writes a state that
// includes it.
func (cs *carts) takeDirty() map[string][]byte {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.dirty) == 0 {
		return nil
	}
	objs := make(map[string][]byte, len(cs.dirty))
	for id := range cs.dirty {
		delete(cs.dirty, id)
		o := cs.all[id]
		if o == nil {
			continue
		}
		if b, err := o.encodingLocked(); err == nil {
			objs[cartKey(id)] = b
		}
	}
	return objs
}

// hasDirty reports whether carts wait to be persisted.
func (cs *carts) hasDirty() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.dirty) > 0
}

// markDirty queues carts for persisting again (after a failed commit).
func (cs *carts) markDirty(keys map[string][]byte) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for k := range keys {
		cs.dirty[strings.TrimPrefix(k, cartPrefix)] = struct{}{}
	}
}

// lockForWrite returns the cart's object with its write lock held. It
// retries if the object was dropped (dropIfEmpty) while it waited for the
// lock, so a write never lands in an object the table no longer holds.
func (cs *carts) lockForWrite(id string) *object {
	for {
		o := cs.object(id)
		o.writeMu.Lock()
		cs.mu.Lock()
		held := cs.all[id] == o
		cs.mu.Unlock()
		if held {
			return o
		}
		o.writeMu.Unlock()
	}
}

// edit runs e on a copy of o's cart at ts and returns the delta and the
// view of the edited copy; o's cart itself is unchanged until install. The
// copy shares every line but item's with the cart (cart.CloneForItem; an
// empty item, a clear, copies them all), so edit holds cs.mu throughout:
// no remote merge may change the cart while the copy is in use. Copying
// the whole cart instead was a tenth of a busy node's CPU. The caller
// holds o.writeMu.
func (cs *carts) edit(o *object, item string, ts crdt.Timestamp, e edit) (*cart.Cart, cart.View, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var c *cart.Cart
	if item == "" {
		c = o.cart.Clone()
	} else {
		c = o.cart.CloneForItem(item)
	}
	delta, err := e(c, ts)
	if err != nil {
		return nil, cart.View{}, err
	}
	return delta, c.View(), nil
}

// isNew reports whether o's cart holds nothing yet.
func (cs *carts) isNew(o *object) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return o.cart.IsEmpty()
}

// dropIfEmpty forgets the object of a cart that never held anything, so
// that refused edits of new carts leave nothing behind. The caller holds
// o.writeMu.
func (cs *carts) dropIfEmpty(id string, o *object) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.all[id] == o && o.cart.IsEmpty() {
		delete(cs.all, id)
	}
}

// install applies a local write's durable delta to the cart in memory and
// marks the cart for the next checkpoint. Merging the delta, rather than
// swapping in the edited copy, keeps whatever peers' changes arrived while
// the write was being logged. The caller holds o.writeMu.
func (cs *carts) install(id string, o *object, delta *cart.Cart) {
	cs.mu.Lock()
	o.cart.Merge(delta)
	o.enc = nil
	o.changes++
	cs.dirty[id] = struct{}{}
	cs.noteLocked(id, o)
	cs.mu.Unlock()
	cs.changed(id, false)
}

// replay merges a delta found in the write-ahead log at startup into the
// cart loaded from the data file, and marks the cart for the checkpoint
// that follows.
func (cs *carts) replay(key string, delta []byte) error {
	id, ok := strings.CutPrefix(key, cartPrefix)
	if !ok {
		return fmt.Errorf("%w %q", errUnknownKey, key)
	}
	return cs.mergeStored(id, delta, true)
}

// load installs a cart read from the data file at startup.
func (cs *carts) load(key string, value []byte) error {
	id, ok := strings.CutPrefix(key, cartPrefix)
	if !ok {
		return nil
	}
	return cs.mergeStored(id, value, false)
}

// mergeStored merges a cart state or delta read from disk into the cart
// id, marking the cart for the next write to the data file if dirty.
func (cs *carts) mergeStored(id string, data []byte, dirty bool) error {
	c := cart.New()
	if err := c.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("cart %q: %w", id, err)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	o := cs.objectLocked(id)
	if o.cart.IsEmpty() {
		o.cart = c // what merging into nothing gives, without the copy
	} else {
		o.cart.Merge(c)
	}
	cs.noteLocked(id, o)
	if dirty {
		cs.dirty[id] = struct{}{}
	}
	return nil
}

// latest returns the greatest timestamp in any cart, so a restarted node's
// clock starts past everything it holds.
func (cs *carts) latest() crdt.Timestamp {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var t crdt.Timestamp
	for _, o := range cs.all {
		if l := o.cart.Latest(); l.After(t) {
			t = l
		}
	}
	return t
}
