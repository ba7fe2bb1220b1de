package daemon

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/store"
)

// maxObjects bounds how many carts a node holds, so that a peer cannot
// fill its disk by inventing carts. Memory does not bound it: carts live in
// the data file and only a bounded cache of them in memory.
const maxObjects = 20_000_000

var (
	errUnknownKey  = errors.New("unknown object key")
	errTooManyObjs = errors.New("too many objects")
)

// object is one cart held in memory, with the locks that serialize this
// node's own writes to it and every use of its state.
type object struct {
	// writeMu is held by a local write from before it reads the cart until
	// after its delta is applied in memory, so two local writes never mint
	// the same dot. Remote merges do not take it.
	writeMu sync.Mutex

	// mu is held by whatever reads or changes cart or enc: a local edit
	// and install, a merge, a read, the persister. carts.mu may be taken
	// while holding it, never the other way round, so that the table's
	// lock is held only for bookkeeping, never for work on a cart: writes
	// and merges to different carts run side by side.
	mu   sync.Mutex
	cart *cart.Cart
	enc  []byte // canonical encoding of cart, nil when stale; never modified

	id string // set once

	// Guarded by carts.mu; changes, held and listed are changed only with
	// mu held too, so either lock is enough to read them.
	// changes is the table-wide sequence number of the cart's last change,
	// or of its loading into memory: the version of the cart's events
	// (events.go). saved is changes as of the cart's last write to the data
	// file: the cart may leave memory only when they are equal.
	changes, saved uint64
	// held and listed say whether the cart holds anything and has a line
	// people see, as counted in the table; diskListed whether the data
	// file's index lists it.
	held, listed, diskListed bool
	// pins counts the writers holding the object (lockForWrite): a pinned
	// object stays in memory.
	pins int
	// cost is what the object is charged against the cache budget.
	cost int64
	// prev and next link the cache's recency list (lru.go).
	prev, next *object
}

// encoding returns o's canonical encoding, reusing the cached one:
// gossip's digest and the persister need the same bytes until the cart
// changes again. The caller holds o.mu.
func (o *object) encoding() ([]byte, error) {
	if o.enc == nil {
		b, err := o.cart.MarshalBinary()
		if err != nil {
			return nil, err
		}
		o.enc = b
	}
	return o.enc, nil
}

// cartStore is what the table needs of the data file (*store.Store).
type cartStore interface {
	Get(key string) ([]byte, bool, error)
	ListedAfter(prefix, after string, limit int) ([]string, bool, error)
	Counts() store.Counts
	Entries(fn func(key string, e store.Entry) bool) error
}

// carts is the node's table of carts: the data file holds every cart, and
// memory a bounded cache of recently used ones together with every cart
// changed since its last write to the data file (those never leave memory
// before that write). Local writes edit and install here; remote deltas and
// repairs merge here; a cart not in memory is loaded on first use. Counts
// and the pages of listed carts come from the data file's index, corrected
// by the carts changed since. It is safe for concurrent use.
type carts struct {
	self    crdt.ReplicaID // this node's replica: only it mints its dots
	clock   *nodeClock
	metrics *metrics
	disk    cartStore
	// budget is the cache size in bytes: past it, the least recently used
	// carts that are saved and not being written leave memory.
	budget int64
	// changed is called, outside the lock, after a local write or device
	// sync was installed in cart id (merged false) or a peer's state or
	// delta changed it (merged true): the node wakes the cart's event
	// streams, and persists a merged cart soon. It must not block: merge
	// runs inside gossip callbacks.
	changed func(id string, merged bool)

	// mu guards the fields below and the objects' bookkeeping (see
	// object): never the carts themselves.
	mu  sync.Mutex
	all map[string]*object // the carts in memory, by ID
	lru lruList
	// loading holds a channel per cart being read from the data file,
	// closed when the read is done, so a cart is loaded once.
	loading map[string]chan struct{}
	seq     uint64 // the last change's sequence number
	// nHeld and nListed count the carts that hold anything and that have
	// a line people see: the data file's counts, plus the changes since.
	nHeld, nListed int
	// overlay holds the IDs of carts in memory whose listed differs from
	// diskListed: what a page read from the index must correct.
	overlay map[string]struct{}
	// dirty holds the IDs of carts changed, by peers or by installed local
	// writes, since they were last taken for writing to the data file.
	dirty map[string]struct{}
}

func newCarts(self crdt.ReplicaID, clock *nodeClock, m *metrics, disk cartStore, budget int64, changed func(id string, merged bool)) *carts {
	c := disk.Counts()
	cs := &carts{
		self:    self,
		clock:   clock,
		metrics: m,
		disk:    disk,
		budget:  budget,
		changed: changed,
		all:     make(map[string]*object),
		loading: make(map[string]chan struct{}),
		nHeld:   c.Entries,
		nListed: c.Listed,
		overlay: make(map[string]struct{}),
		dirty:   make(map[string]struct{}),
	}
	cs.lru.init()
	return cs
}

// facts returns what the table counts of a cart: whether it holds
// anything, and whether it has a line people see. The caller holds o.mu.
func facts(c *cart.Cart) (held, listed bool) {
	return !c.IsEmpty(), c.HasItems()
}

// noteLocked updates the counts and the overlay after a change to o's
// cart, given the cart's facts, gives the change its sequence number and
// marks the cart for the data file. The caller holds o.mu and cs.mu.
func (cs *carts) noteLocked(o *object, held, listed bool) {
	cs.nHeld += b2i(held) - b2i(o.held)
	cs.nListed += b2i(listed) - b2i(o.listed)
	o.held, o.listed = held, listed
	cs.noteOverlayLocked(o)
	cs.seq++
	o.changes = cs.seq
	o.enc = nil
	cs.dirty[o.id] = struct{}{}
}

func (cs *carts) noteOverlayLocked(o *object) {
	if o.listed != o.diskListed {
		cs.overlay[o.id] = struct{}{}
	} else {
		delete(cs.overlay, o.id)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// locked runs fn with cs.mu held and the object of cart id in the table,
// loading the cart from the data file if it is not in memory. An unknown
// cart gets a new empty object if create is set; otherwise fn gets nil.
// The table is trimmed to its budget after fn, so fn may pin the object to
// keep it in memory. fn must not touch the cart (o.mu comes first): use
// does that.
func (cs *carts) locked(id string, create bool, fn func(o *object)) error {
	cs.mu.Lock()
	for {
		if o := cs.all[id]; o != nil {
			cs.lru.touch(o)
			fn(o)
			cs.evictLocked()
			cs.mu.Unlock()
			return nil
		}
		wait := cs.loading[id]
		if wait == nil {
			break
		}
		cs.mu.Unlock()
		<-wait
		cs.mu.Lock()
	}
	done := make(chan struct{})
	cs.loading[id] = done
	cs.mu.Unlock()

	c, enc, err := cs.read(id)

	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.loading, id)
	close(done)
	if err != nil {
		return err
	}
	if c == nil && !create {
		fn(nil)
		return nil
	}
	o := &object{id: id, cart: cart.New()}
	if c != nil {
		o.cart, o.enc = c, enc
		o.held, o.listed = true, c.HasItems()
		o.diskListed = o.listed
	}
	// A fresh number: an event stream that last saw this cart before it
	// left memory, or saw it unknown, must read it again.
	cs.seq++
	o.changes, o.saved = cs.seq, cs.seq
	o.cost = objectCost(len(enc))
	cs.all[id] = o
	cs.lru.pushFront(o)
	cs.metrics.cacheLoads.Inc()
	fn(o)
	cs.evictLocked()
	return nil
}

// use runs fn on the object of cart id with o.mu held, loading the cart
// if needed (create as for locked; fn gets nil for an unknown cart
// without it). The object stays pinned in memory meanwhile. If fn reports
// a change to the cart, with the cart's facts, the change is noted before
// o.mu is released. An object left holding nothing and unpinned (a refused
// merge into a new cart) is forgotten.
func (cs *carts) use(id string, create bool, fn func(o *object) (changed bool)) error {
	var o *object
	if err := cs.locked(id, create, func(x *object) {
		if o = x; o != nil {
			o.pins++
		}
	}); err != nil {
		return err
	}
	if o == nil {
		fn(nil)
		return nil
	}
	o.mu.Lock()
	changed := fn(o)
	var held, listed bool
	if changed {
		held, listed = facts(o.cart)
	}
	cs.mu.Lock()
	if changed {
		cs.noteLocked(o, held, listed)
	}
	o.pins--
	cs.dropLocked(o)
	cs.evictLocked()
	cs.mu.Unlock()
	o.mu.Unlock()
	return nil
}

// read loads cart id from the data file: nil if it is not there.
func (cs *carts) read(id string) (*cart.Cart, []byte, error) {
	enc, ok, err := cs.disk.Get(cartKey(id))
	if err != nil {
		return nil, nil, fmt.Errorf("read cart %s: %w", id, err)
	}
	if !ok {
		return nil, nil, nil
	}
	c := cart.New()
	if err := c.UnmarshalBinary(enc); err != nil {
		return nil, nil, fmt.Errorf("read cart %s from the data file: %w", id, err)
	}
	// Timestamps in the cart may come from peers whose clocks ran ahead:
	// a write to it must still be stamped later than all of them.
	if l := c.Latest(); !l.IsZero() {
		cs.clock.observe(l)
	}
	return c, enc, nil
}

// view returns a cart's current view (empty for an unknown cart).
func (cs *carts) view(id string) (cart.View, error) {
	v, _, err := cs.versionedView(id)
	return v, err
}

// versionedView returns a cart's current view and the sequence number of
// its last change, read together, so that an event stream can tell
// whether it has sent this view already.
func (cs *carts) versionedView(id string) (v cart.View, changes uint64, err error) {
	err = cs.use(id, false, func(o *object) bool {
		if o == nil {
			v = cart.View{Lines: []cart.Line{}}
			return false
		}
		v, changes = o.cart.View(), o.changes
		return false
	})
	return v, changes, err
}

// page returns up to limit IDs of carts with at least one visible line,
// in order, starting after the ID after ("" starts at the first), and
// whether more follow. It reads the data file's index and corrects it by
// the carts changed since their last write there.
func (cs *carts) page(after string, limit int) (ids []string, more bool, err error) {
	cs.mu.Lock()
	overlay := make(map[string]bool, len(cs.overlay))
	hidden := 0
	for id := range cs.overlay {
		listed := cs.all[id].listed
		overlay[id] = listed
		hidden += 1 - b2i(listed)
	}
	cs.mu.Unlock()
	from := cartPrefix
	if after != "" {
		from = cartKey(after)
	}
	keys, diskMore, err := cs.disk.ListedAfter(cartPrefix, from, limit+hidden)
	if err != nil {
		return nil, false, err
	}
	ids = make([]string, 0, len(keys)+len(overlay))
	for _, k := range keys {
		id := strings.TrimPrefix(k, cartPrefix)
		if listed, ok := overlay[id]; !ok || listed {
			ids = append(ids, id)
		}
		delete(overlay, id)
	}
	// A cart listed only in memory joins the page if it sorts within what
	// was read from the index (or anywhere, if the index has no more).
	for id, listed := range overlay {
		if listed && id > after && (!diskMore || len(keys) == 0 || cartKey(id) < keys[len(keys)-1]) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > limit {
		return ids[:limit], true, nil
	}
	return ids, diskMore, nil
}

// counts returns how many carts have lines people see, and how many carts
// are held in all (including carts whose lines were all removed: their
// causal context keeps what was removed, so that a stale peer cannot bring
// the lines back).
func (cs *carts) counts() (withItems, held int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.nListed, cs.nHeld
}

// count returns the number of carts held, including empty ones.
func (cs *carts) count() int {
	_, held := cs.counts()
	return held
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
	var changed bool
	var mergeErr error
	err := cs.use(id, true, func(o *object) bool {
		if !o.held {
			cs.mu.Lock()
			full := cs.nHeld >= maxObjects
			cs.mu.Unlock()
			if full {
				mergeErr = fmt.Errorf("%w: %d carts", errTooManyObjs, maxObjects)
				return false
			}
		}
		// Only this node mints its own dots, and it sends none before it
		// holds them: state claiming more of them is forged or corrupt.
		// Taking it would make this node's next write reuse a dot peers
		// already hold (the write would be silently dropped everywhere)
		// or, near the counter's end, refuse every write to the cart.
		if claimed, issued := in.MaxSeq(cs.self), o.cart.MaxSeq(cs.self); claimed > issued {
			cs.metrics.rejected.WithLabelValues("own_dots_forged").Inc()
			mergeErr = fmt.Errorf("cart %s: state claims change %d of this node's replica, which issued only %d", id, claimed, issued)
			return false
		}
		changed = o.cart.Merge(in)
		return changed
	})
	if err = errors.Join(err, mergeErr); err != nil {
		return false, err
	}
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

// dropLocked forgets o if its cart never held anything and no writer holds
// it, so that refused changes of new carts leave nothing behind. The
// caller holds cs.mu.
func (cs *carts) dropLocked(o *object) {
	if cs.all[o.id] == o && !o.held && o.pins == 0 {
		cs.removeLocked(o)
	}
}

// removeLocked takes o out of memory. The caller holds cs.mu.
func (cs *carts) removeLocked(o *object) {
	delete(cs.all, o.id)
	delete(cs.overlay, o.id)
	cs.lru.remove(o)
}

// state returns the canonical encoding of a cart, if it holds anything. A
// cart not in memory is read from the data file without caching it: the
// repair of a bucket streams its carts through here.
func (cs *carts) state(id string) ([]byte, bool) {
	cs.mu.Lock()
	if o := cs.all[id]; o != nil {
		o.pins++
		cs.mu.Unlock()
		defer cs.unpin(o)
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.cart.IsEmpty() {
			return nil, false
		}
		b, err := o.encoding()
		return b, err == nil
	}
	cs.mu.Unlock()
	b, ok, err := cs.disk.Get(cartKey(id))
	if err != nil {
		cs.metrics.cacheReadErrors.Inc()
		return nil, false
	}
	return b, ok
}

// eachHash calls fn with the gossip hash of every cart held, until fn
// returns false: from the data file's index, and for carts changed since
// their last write there, from memory. It reads no cart from the data file.
func (cs *carts) eachHash(fn func(key string, hash uint64) bool) error {
	cs.mu.Lock()
	var unsaved []*object
	for _, o := range cs.all {
		if o.changes != o.saved && o.held {
			o.pins++
			unsaved = append(unsaved, o)
		}
	}
	cs.mu.Unlock()
	defer cs.unpin(unsaved...)
	changed := make(map[string]uint64, len(unsaved))
	for _, o := range unsaved {
		o.mu.Lock()
		b, err := o.encoding()
		o.mu.Unlock()
		if err != nil {
			return fmt.Errorf("encode cart %s: %w", o.id, err)
		}
		key := cartKey(o.id)
		changed[key] = gossip.ObjectHash(key, b)
	}
	stopped := false
	err := cs.disk.Entries(func(key string, e store.Entry) bool {
		if !strings.HasPrefix(key, cartPrefix) {
			return true
		}
		h := e.Hash
		if c, ok := changed[key]; ok {
			h = c
			delete(changed, key)
		}
		stopped = !fn(key, h)
		return !stopped
	})
	if err != nil || stopped {
		return err
	}
	for key, h := range changed {
		if !fn(key, h) {
			return nil
		}
	}
	return nil
}

// persistBatch is a set of carts taken for writing to the data file:
// their states and index entries, and what to record once they are
// written (saved).
type persistBatch struct {
	objects map[string][]byte
	index   map[string]store.Entry
	taken   []takenCart
}

type takenCart struct {
	o       *object
	changes uint64
	listed  bool
	encLen  int
}

// takeDirty returns the carts changed since the last call, for writing to
// the data file. A local write marks its cart only once its delta is
// installed, so a checkpoint that calls this after the write's log record
// was released writes a state that includes it.
func (cs *carts) takeDirty() *persistBatch {
	cs.mu.Lock()
	var dirty []*object
	for id := range cs.dirty {
		delete(cs.dirty, id)
		if o := cs.all[id]; o != nil && o.held {
			o.pins++
			dirty = append(dirty, o)
		}
	}
	cs.mu.Unlock()
	defer cs.unpin(dirty...)
	b := &persistBatch{
		objects: make(map[string][]byte, len(dirty)),
		index:   make(map[string]store.Entry, len(dirty)),
	}
	var failed []*object
	for _, o := range dirty {
		o.mu.Lock()
		enc, err := o.encoding()
		changes, listed := o.changes, o.listed
		o.mu.Unlock()
		if err != nil {
			cs.metrics.cacheWriteErrors.Inc()
			failed = append(failed, o)
			continue
		}
		key := cartKey(o.id)
		b.objects[key] = enc
		b.index[key] = store.Entry{Hash: gossip.ObjectHash(key, enc), Listed: listed}
		b.taken = append(b.taken, takenCart{o: o, changes: changes, listed: listed, encLen: len(enc)})
	}
	if len(failed) > 0 {
		cs.mu.Lock()
		for _, o := range failed {
			cs.dirty[o.id] = struct{}{}
		}
		cs.mu.Unlock()
	}
	return b
}

// unpin releases pins taken on objects.
func (cs *carts) unpin(objs ...*object) {
	if len(objs) == 0 {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, o := range objs {
		o.pins--
	}
	cs.evictLocked()
}

// saved records that a batch is in the data file: its carts may leave
// memory unless they changed again meanwhile.
func (cs *carts) saved(b *persistBatch) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, t := range b.taken {
		o := t.o
		if cs.all[o.id] != o {
			continue
		}
		o.saved = max(o.saved, t.changes)
		o.diskListed = t.listed
		cs.noteOverlayLocked(o)
		cs.lru.recharge(o, objectCost(t.encLen))
	}
	cs.evictLocked()
}

// hasDirty reports whether carts wait to be persisted.
func (cs *carts) hasDirty() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.dirty) > 0
}

// markDirty queues the carts of a batch for persisting again (after a
// failed commit).
func (cs *carts) markDirty(b *persistBatch) {
	if b == nil {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, t := range b.taken {
		cs.dirty[t.o.id] = struct{}{}
	}
}

// lockForWrite returns the cart's object with its write lock held and
// pinned in memory, loading the cart from the data file if needed; release
// both with unlockWrite. It retries if the object was dropped (dropIfEmpty)
// while it waited for the lock, so a write never lands in an object the
// table no longer holds.
func (cs *carts) lockForWrite(id string) (*object, error) {
	for {
		var o *object
		if err := cs.locked(id, true, func(x *object) { o = x; o.pins++ }); err != nil {
			return nil, err
		}
		o.writeMu.Lock()
		cs.mu.Lock()
		held := cs.all[id] == o
		cs.mu.Unlock()
		if held {
			return o, nil
		}
		cs.unlockWrite(o)
	}
}

// unlockWrite releases what lockForWrite took.
func (cs *carts) unlockWrite(o *object) {
	cs.mu.Lock()
	o.pins--
	cs.mu.Unlock()
	o.writeMu.Unlock()
}

// edit runs e on a copy of o's cart at ts and returns the delta, the view
// of the edited copy, and the copy itself for install; o's cart is
// unchanged until install. The copy shares the cart's lines, which never
// change in place (cart.Clone); copying them instead was a tenth of a busy
// node's CPU, and for a line of many adds most of an add's. edit holds o.mu
// throughout: no remote merge may change the cart while the copy is made
// and read. A cart that holds nothing yet is refused when the
// node already holds maxObjects carts. The caller holds o through
// lockForWrite.
func (cs *carts) edit(o *object, item string, ts crdt.Timestamp, e edit) (*cart.Cart, cart.View, edited, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.held {
		if err := cs.room(o); err != nil {
			return nil, cart.View{}, edited{}, err
		}
	}
	var c *cart.Cart
	if item == "" {
		c = o.cart.Clone()
	} else {
		c = o.cart.CloneForItem(item)
	}
	delta, err := e(c, ts)
	if err != nil {
		return nil, cart.View{}, edited{}, err
	}
	v := c.View()
	return delta, v, edited{cart: c, changes: o.changes, held: !c.IsEmpty(), listed: len(v.Lines) > 0}, nil
}

// room refuses a cart that holds nothing yet when the node already holds
// maxObjects carts. The caller holds o through lockForWrite.
func (cs *carts) room(o *object) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if !o.held && cs.nHeld >= maxObjects {
		return fmt.Errorf("%w: the node holds %d carts; no new cart is taken", errTooManyObjs, maxObjects)
	}
	return nil
}

// edited is a local edit's copy of a cart (the cart with the edit's delta
// merged), the cart's change number when the copy was made, and the
// copy's facts (see facts).
type edited struct {
	cart         *cart.Cart
	changes      uint64
	held, listed bool
}

// dropIfEmpty forgets the object of a cart that never held anything, so
// that refused edits of new carts leave nothing behind, unless something
// else holds it too (it is then forgotten when that lets it go). The
// caller holds o through lockForWrite.
func (cs *carts) dropIfEmpty(o *object) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.all[o.id] == o && !o.held && o.pins == 1 {
		cs.removeLocked(o)
	}
}

// install applies a local write's durable delta to the cart in memory and
// marks the cart for the next checkpoint. If nothing changed the cart
// since ed was made, the edited copy, which is the cart with the delta
// merged, takes its place: an O(1) step under cs.mu, which every write
// takes, where merging is as long as the line. Otherwise (a peer's change
// arrived while the write was in the log) merging the delta keeps it.
// ed may be zero (a device's sync has no copy): the delta is merged. The
// caller holds o through lockForWrite.
func (cs *carts) install(o *object, delta *cart.Cart, ed edited) {
	o.mu.Lock()
	held, listed := ed.held, ed.listed
	if ed.cart != nil && ed.changes == o.changes {
		ed.cart.TakeOver(o.cart)
		o.cart = ed.cart
	} else {
		o.cart.Merge(delta)
		held, listed = facts(o.cart)
	}
	cs.mu.Lock()
	cs.noteLocked(o, held, listed)
	cs.mu.Unlock()
	o.mu.Unlock()
	cs.changed(o.id, false)
}

// replay merges a delta found in the write-ahead log at startup into the
// cart as the data file holds it, and marks the cart for the checkpoint
// that follows.
func (cs *carts) replay(key string, delta []byte) error {
	id, ok := strings.CutPrefix(key, cartPrefix)
	if !ok {
		return fmt.Errorf("%w %q", errUnknownKey, key)
	}
	c := cart.New()
	if err := c.UnmarshalBinary(delta); err != nil {
		return fmt.Errorf("cart %q: %w", id, err)
	}
	if l := c.Latest(); !l.IsZero() {
		cs.clock.observe(l)
	}
	return cs.use(id, true, func(o *object) bool { return o.cart.Merge(c) })
}
