package daemon

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
)

// Object keys: the daemon replicates two kinds of object through gossip,
// told apart by a key prefix.
const (
	cartPrefix      = "c/"
	heartbeatPrefix = "h/"
)

// maxObjects bounds how many carts a node accepts from peers, so that a
// peer cannot exhaust memory by inventing carts.
const maxObjects = 2_000_000

var (
	errUnknownKey  = errors.New("unknown object key")
	errTooManyObjs = errors.New("too many objects")
)

func cartKey(id string) string { return cartPrefix + id }

// object is one cart and the lock that serializes this node's own writes to
// it across apply, log and acknowledge.
type object struct {
	// writeMu is held by a local write from before it reads the cart until
	// after its delta is applied in memory, so two local writes never mint
	// the same dot. Remote merges do not take it.
	writeMu sync.Mutex

	// Guarded by registry.mu.
	cart *cart.Cart
	enc  []byte // canonical encoding of cart, nil when stale; never modified
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

// registry holds every cart in memory. It is the gossip.Delegate: remote
// deltas and repairs merge here.
type registry struct {
	d *Daemon

	// mu guards the fields below and every object's cart.
	mu    sync.Mutex
	carts map[string]*object // by cart ID
	// dirty holds the IDs of carts changed, by peers or by installed local
	// writes, since they were last written to the data file.
	dirty map[string]struct{}
	beats map[crdt.ReplicaID]*heartbeat
	// ownBeat is the encoding of this node's latest heartbeat; replaced,
	// never modified, so State may hand it out.
	ownBeat []byte
}

func newRegistry(d *Daemon) *registry {
	return &registry{
		d:     d,
		carts: make(map[string]*object),
		dirty: make(map[string]struct{}),
		beats: make(map[crdt.ReplicaID]*heartbeat),
	}
}

// object returns the object for a cart, creating an empty one.
func (r *registry) object(id string) *object {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.objectLocked(id)
}

func (r *registry) objectLocked(id string) *object {
	o := r.carts[id]
	if o == nil {
		o = &object{cart: cart.New()}
		r.carts[id] = o
	}
	return o
}

// view returns a cart's current view (empty for an unknown cart).
func (r *registry) view(id string) cart.View {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.carts[id]
	if o == nil {
		return cart.View{Lines: []cart.Line{}}
	}
	return o.cart.View()
}

// cartIDs returns the IDs of carts with at least one visible line, sorted.
func (r *registry) cartIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id, o := range r.carts {
		if o.cart.HasItems() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// count returns the number of carts held, including empty ones.
func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.carts)
}

// Merge implements gossip.Delegate.
func (r *registry) Merge(key string, data []byte, info gossip.MergeInfo) (bool, error) {
	switch {
	case strings.HasPrefix(key, cartPrefix):
		return r.mergeCart(strings.TrimPrefix(key, cartPrefix), data, info)
	case strings.HasPrefix(key, heartbeatPrefix):
		return r.mergeHeartbeat(strings.TrimPrefix(key, heartbeatPrefix), data)
	}
	r.d.metrics.decodeErrors.WithLabelValues("gossip").Inc()
	return false, fmt.Errorf("%w %q", errUnknownKey, key)
}

func (r *registry) mergeCart(id string, data []byte, info gossip.MergeInfo) (bool, error) {
	if err := cart.ValidItemID(id); err != nil {
		r.d.metrics.decodeErrors.WithLabelValues("gossip").Inc()
		return false, fmt.Errorf("cart id: %v", err)
	}
	in := cart.New()
	if err := in.UnmarshalBinary(data); err != nil {
		r.d.metrics.decodeErrors.WithLabelValues("gossip").Inc()
		return false, err
	}
	latest := in.Latest()
	if err := r.d.checkRemoteTime(latest); err != nil {
		return false, err
	}
	r.mu.Lock()
	o := r.carts[id]
	if o == nil {
		if len(r.carts) >= maxObjects {
			r.mu.Unlock()
			return false, fmt.Errorf("%w: %d carts", errTooManyObjs, maxObjects)
		}
		o = r.objectLocked(id)
	}
	changed := o.cart.Merge(in)
	if changed {
		o.enc = nil
		r.dirty[id] = struct{}{}
	}
	r.mu.Unlock()
	if !latest.IsZero() {
		r.d.observe(latest)
	}
	if changed {
		r.d.persistSoon()
		r.d.metrics.merged.WithLabelValues(info.Channel.String()).Inc()
		if info.Channel == gossip.ChannelDelta && !info.OriginTime.IsZero() {
			r.d.metrics.replicationLag.Observe(max(0, r.d.now().Sub(info.OriginTime).Seconds()))
		}
	}
	return changed, nil
}

// State implements gossip.Delegate: the canonical encoding of a cart or of
// the latest heartbeat known here. Heartbeats are kept out of the digest
// (gossip.Config.SkipDigest: they change every few seconds on every node, and a
// digest that never agrees would make anti-entropy repair all the time), but
// gossip sends their state in place of older queued beats.
func (r *registry) State(key string) ([]byte, bool) {
	if replica, ok := strings.CutPrefix(key, heartbeatPrefix); ok {
		return r.heartbeatState(crdt.ReplicaID(replica))
	}
	id, ok := strings.CutPrefix(key, cartPrefix)
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.carts[id]
	if o == nil || o.cart.IsEmpty() {
		return nil, false
	}
	b, err := o.encodingLocked()
	if err != nil {
		return nil, false
	}
	return b, true
}

// Keys implements gossip.Delegate.
func (r *registry) Keys(fn func(key string) bool) {
	r.mu.Lock()
	ids := slices.Collect(maps.Keys(r.carts))
	r.mu.Unlock()
	for _, id := range ids {
		if !fn(cartKey(id)) {
			return
		}
	}
}

// takeDirty returns the encodings of the carts changed since the last call,
// for writing to the data file. A local write marks its cart only once its
// delta is installed, so a checkpoint that calls this after the write's log
// record was released writes a state that includes it.
func (r *registry) takeDirty() map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.dirty) == 0 {
		return nil
	}
	objs := make(map[string][]byte, len(r.dirty))
	for id := range r.dirty {
		delete(r.dirty, id)
		o := r.carts[id]
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
func (r *registry) hasDirty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.dirty) > 0
}

// lockForWrite returns the cart's object with its write lock held. It
// retries if the object was dropped (dropIfEmpty) while it waited for the
// lock, so a write never lands in an object the registry no longer holds.
func (r *registry) lockForWrite(id string) *object {
	for {
		o := r.object(id)
		o.writeMu.Lock()
		r.mu.Lock()
		held := r.carts[id] == o
		r.mu.Unlock()
		if held {
			return o
		}
		o.writeMu.Unlock()
	}
}

// edit runs e on a copy of o's cart at ts and returns the delta and the
// view of the edited copy; o's cart itself is unchanged until install. The
// copy shares every line but item's with the cart (cart.CloneForItem; an
// empty item, a clear, copies them all), so edit holds r.mu throughout:
// no remote merge may change the cart while the copy is in use. Copying
// the whole cart instead was a tenth of a busy node's CPU. The caller
// holds o.writeMu.
func (r *registry) edit(o *object, item string, ts crdt.Timestamp, e edit) (*cart.Cart, cart.View, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
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

// dropIfEmpty forgets the object of a cart that never held anything, so
// that refused edits of new carts leave nothing behind. The caller holds
// o.writeMu.
func (r *registry) dropIfEmpty(id string, o *object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.carts[id] == o && o.cart.IsEmpty() {
		delete(r.carts, id)
	}
}

// install applies a local write's durable delta to the cart in memory and
// marks the cart for the next checkpoint. Merging the delta, rather than
// swapping in the edited copy, keeps whatever peers' changes arrived while
// the write was being logged. The caller holds o.writeMu.
func (r *registry) install(id string, o *object, delta *cart.Cart) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o.cart.Merge(delta)
	o.enc = nil
	r.dirty[id] = struct{}{}
}

// replay merges a delta found in the write-ahead log at startup into the
// cart loaded from the data file, and marks the cart for the checkpoint
// that follows.
func (r *registry) replay(key string, delta []byte) error {
	id, ok := strings.CutPrefix(key, cartPrefix)
	if !ok {
		return fmt.Errorf("%w %q", errUnknownKey, key)
	}
	return r.mergeStored(id, delta, true)
}

// mergeStored merges a cart state or delta read from disk into the cart
// id, marking the cart for the next write to the data file if dirty.
func (r *registry) mergeStored(id string, data []byte, dirty bool) error {
	c := cart.New()
	if err := c.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("cart %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := r.objectLocked(id); o.cart.IsEmpty() {
		o.cart = c // what merging into nothing gives, without the copy
	} else {
		o.cart.Merge(c)
	}
	if dirty {
		r.dirty[id] = struct{}{}
	}
	return nil
}

// markDirty queues carts for persisting again (after a failed commit).
func (r *registry) markDirty(keys map[string][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range keys {
		r.dirty[strings.TrimPrefix(k, cartPrefix)] = struct{}{}
	}
}

// load installs a cart read from the data file at startup.
func (r *registry) load(key string, value []byte) error {
	id, ok := strings.CutPrefix(key, cartPrefix)
	if !ok {
		return nil
	}
	return r.mergeStored(id, value, false)
}

// latest returns the greatest timestamp in any cart, so a restarted node's
// clock starts past everything it holds.
func (r *registry) latest() crdt.Timestamp {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t crdt.Timestamp
	for _, o := range r.carts {
		if l := o.cart.Latest(); l.After(t) {
			t = l
		}
	}
	return t
}

// heartbeat is what this node knows of one peer's consistency heartbeat.
type heartbeat struct {
	reg      crdt.LWWRegister[int64] // value: the beat's wall time at the origin
	received time.Time               // local time the latest beat arrived
}
