package daemon

// The cart cache: carts in memory are kept in a recency list, and when the
// bytes they are charged pass the budget, the least recently used ones that
// may leave (saved to the data file, no writer holding them) are dropped.
// A dropped cart is read again from the data file on its next use.

// Cost model of a cart in memory. A cart's heap (its maps, lines, dots and
// causal context, the object, the table's entries) grows with its
// encoding; objectCost charges a fixed part and a multiple of the encoded
// size, fitted to the heap measured per cached cart (TestObjectCostModel).
const (
	objectFixedCost   = 1000
	objectCostPerByte = 9
)

// objectCost is what a cart whose canonical encoding has n bytes is
// charged against the cache budget.
func objectCost(n int) int64 { return objectFixedCost + objectCostPerByte*int64(n) }

// maxEvictScan bounds how many carts one trim looks at past the ones it
// drops: carts that may not leave yet (changed since their last write,
// or being written) are skipped, and a burst of writes can fill the cache
// with them until the next checkpoint saves them.
const maxEvictScan = 64

// lruList is a doubly linked recency list of objects, most recent first,
// with a sentinel; it also sums the objects' costs.
type lruList struct {
	root  object // root.next is the most recent, root.prev the least
	bytes int64
	n     int
}

func (l *lruList) init() { l.root.next, l.root.prev = &l.root, &l.root }

func (l *lruList) pushFront(o *object) {
	o.prev, o.next = &l.root, l.root.next
	l.root.next.prev = o
	l.root.next = o
	l.bytes += o.cost
	l.n++
}

func (l *lruList) remove(o *object) {
	if o.next == nil {
		return
	}
	o.prev.next, o.next.prev = o.next, o.prev
	o.prev, o.next = nil, nil
	l.bytes -= o.cost
	l.n--
}

// touch moves o to the front.
func (l *lruList) touch(o *object) {
	if l.root.next == o || o.next == nil {
		return
	}
	o.prev.next, o.next.prev = o.next, o.prev
	o.prev, o.next = &l.root, l.root.next
	l.root.next.prev = o
	l.root.next = o
}

// recharge changes o's cost.
func (l *lruList) recharge(o *object, cost int64) {
	if o.next != nil {
		l.bytes += cost - o.cost
	}
	o.cost = cost
}

// mayLeave reports whether o can be dropped from memory: nothing in it is
// missing from the data file, and no writer holds it.
func (o *object) mayLeave() bool {
	return o.pins == 0 && (o.changes == o.saved || !o.held)
}

// evictLocked drops least recently used carts until the cache is within
// its budget, or maxEvictScan carts that must stay were passed over. The
// caller holds cs.mu.
func (cs *carts) evictLocked() {
	skipped := 0
	for o := cs.lru.root.prev; cs.lru.bytes > cs.budget && o != &cs.lru.root && skipped < maxEvictScan; {
		prev := o.prev
		if o.mayLeave() {
			cs.removeLocked(o)
			cs.metrics.cacheEvictions.Inc()
		} else {
			skipped++
		}
		o = prev
	}
}

// cacheStats returns the carts in memory and the bytes they are charged.
func (cs *carts) cacheStats() (carts int, bytes int64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.lru.n, cs.lru.bytes
}
