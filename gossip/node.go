package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Delegate is implemented by the owner of the replicated objects (the daemon).
//
// Methods are called from gossip's own goroutines (never from memberlist
// callbacks, and never with a lock of gossip or memberlist held), possibly
// concurrently with each other and with themselves; the implementation must
// be safe for concurrent use. They may block (Merge may wait for a disk
// commit), but a slow call holds up the worker that made it: an inbound
// worker (Merge, and State for relays), the local worker (State, for digest
// updates and fresh deltas) or the repair worker (State). They must not
// call back into the [Node] that calls them (Publish and Updated are fine
// from other goroutines, and never block). Byte slices passed in are owned
// by gossip and valid only during the call: copy what you keep. Byte slices
// returned are not modified by gossip, and the Delegate must not modify
// them after returning them.
type Delegate interface {
	// Merge joins data (a delta or a full state of key, as produced by the
	// peer's Delegate) into the local object, creating it if absent. It
	// reports whether local state changed. An error means the bytes were
	// rejected (counted, logged, dropped). Called by the inbound workers
	// ([Config].InboundWorkers of them).
	Merge(key string, data []byte, info MergeInfo) (changed bool, err error)
	// State returns the canonical full-state encoding of key, or ok=false if
	// unknown. Equal states must give equal bytes (the digest hashes these
	// bytes). Gossip also sends it in place of queued deltas of key, whose
	// join it subsumes; for that the state must reflect every change applied
	// before the call (a local change is applied before its Publish, a
	// received one by the time Merge returns).
	// Called by the local worker (digest updates, fresh deltas), the inbound
	// workers (relays) and the repair worker; never by New.
	State(key string) (data []byte, ok bool)
	// Hashes calls fn with every key held and its hash until fn returns
	// false. The hash must be [ObjectHash](key, state) of the state State
	// would return for key now; a Delegate that persists its objects can
	// persist these hashes with them, so that a restart reads no state. New
	// calls Hashes once, on a goroutine of its own (the node serves
	// meanwhile, and repairs nothing until the digest is built: see
	// [Node.DigestLoaded]), and builds the digest from it without calling
	// State; the digest keeps the key strings fn receives. Hashes may run
	// concurrently with every other method. A hash of 0 is
	// ignored (ObjectHash never returns 0). A wrong hash costs repair
	// traffic, not correctness: the peers' digests disagree on the key's
	// bucket, and anti-entropy resends that part of it at every round, until
	// the key changes here and gossip reads its state again.
	Hashes(fn func(key string, hash uint64) bool)
}

// Channel says by which path merged bytes arrived.
type Channel uint8

const (
	// ChannelDelta: a delta from gossip broadcast, a direct push or a
	// reliable send of a large delta.
	ChannelDelta Channel = iota + 1
	// ChannelRepair: a full state sent by anti-entropy.
	ChannelRepair
)

func (c Channel) String() string {
	switch c {
	case ChannelDelta:
		return "delta"
	case ChannelRepair:
		return "repair"
	}
	return "Channel(" + strconv.Itoa(int(c)) + ")"
}

// MergeInfo tells the Delegate where merged bytes came from.
type MergeInfo struct {
	Channel Channel // ChannelDelta (gossip broadcast / direct push) or ChannelRepair (anti-entropy)
	// Origin is the name ([Config].Name) of the node where the change was
	// made (delta channel), "" for repair; Peer is the node that relayed it
	// to us. When queued deltas were joined, it is the origin of the oldest
	// of them. It comes from the peer and is for logs and metrics only.
	Origin string
	// OriginTime is the wall time at the origin when the change was made
	// (zero for repair); used for the replication-lag metric. When queued
	// deltas were joined, it is the oldest one's time, so lag is never
	// under-reported.
	OriginTime time.Time
	Peer       string // memberlist node name we received it from
}

// Member is one node of the cluster as this node sees it.
type Member struct {
	Name string // memberlist node name
	Addr string // gossip host:port
	// Meta is the node's [Config].Meta, nil if it has none or its meta could
	// not be decoded. Each Member returned holds its own copy.
	Meta map[string]string
	// State is "alive" (memberlist counts suspect nodes as alive and does not
	// expose suspicion), "dead" or "left". Dead and left members are listed
	// until ReconnectTimeout passes.
	State string
}

// PeerDigest is what this node learnt about a peer's digest at the last
// push/pull exchange that named it as the sender. memberlist does not tell
// who is at the other end of an exchange, so this is what a node holding
// the cluster key claimed; gossip repairs nothing on that word alone (see
// [Stats].RepairOffers).
type PeerDigest struct {
	Root    uint64    // peer's root hash
	Keys    int       // number of keys the peer holds
	At      time.Time // when we received it
	InSync  bool      // whether it equalled our digest at that time
	Buckets int       // number of differing buckets
}

// Node is one gossip participant: it owns a memberlist instance and the
// workers that merge, broadcast and repair. Create it with [New]; all
// methods are safe for concurrent use.
type Node struct {
	cfg  Config
	log  *slog.Logger
	del  Delegate
	self Member // this node; set in New

	ml     *memberlist.Memberlist // set in New before any worker starts
	mlp    atomic.Pointer[memberlist.Memberlist]
	digest *digest
	// lastSent is the digest snapshot most recently returned by LocalState.
	// memberlist calls LocalState and then MergeRemoteState on the same
	// goroutine in one exchange, so comparing the remote digest with it
	// makes both ends pick the same buckets.
	lastSent atomic.Pointer[snapshot]

	queue *memberlist.TransmitLimitedQueue
	// bmu guards queued: the broadcast currently queued per key.
	bmu    sync.Mutex
	queued map[string]*deltaBroadcast

	pubCh    chan localDelta
	inCh     chan inbound
	inBytes  atomic.Int64
	relCh    chan []byte
	repairCh chan repairJob
	ctrlCh   chan controlMsg // repair offers and wants to send
	offers   offerTable      // repair offers sent and not yet answered

	// rmu guards repairBusy: peers with a repair queued or running.
	rmu        sync.Mutex
	repairBusy map[string]bool

	// dmu guards dirty: keys whose digest entry must be recomputed.
	dmu     sync.Mutex
	dirty   map[string]struct{}
	dirtyCh chan struct{}

	// pmu guards seeds, known and peerDigests.
	pmu         sync.Mutex
	seeds       []string
	known       map[string]*knownPeer
	peerDigests map[string]PeerDigest

	stats stats
	// warnLimit limits gossip's warnings about bad remote input.
	warnLimit *logLimiter

	stop      chan struct{}
	wg        sync.WaitGroup
	leaveOnce sync.Once
	leaveErr  error
	shutOnce  sync.Once
	shutErr   error
	shutdown  atomic.Bool
	leaving   atomic.Bool
}

// knownPeer is a peer we have seen, kept for Members and reconnects.
type knownPeer struct {
	Member
	node    memberlist.Node // private copy from the last event
	goneAt  time.Time       // when it became dead or left; zero while alive
	leaving bool            // its meta said it is leaving
}

// New validates cfg, builds the digest from the Delegate's hashes, creates
// the memberlist instance (with gossip's delegates registered before it
// starts) and starts the workers. The node is alone until [Node.Join].
func New(cfg *Config) (*Node, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrConfig)
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:         c,
		log:         c.Logger.With("node", c.Name),
		del:         c.Delegate,
		digest:      newDigest(),
		queued:      make(map[string]*deltaBroadcast),
		pubCh:       make(chan localDelta, c.OutboundQueue),
		inCh:        make(chan inbound, c.InboundQueue),
		relCh:       make(chan []byte, c.ReliableQueue),
		repairCh:    make(chan repairJob, 64),
		ctrlCh:      make(chan controlMsg, 64),
		repairBusy:  make(map[string]bool),
		dirty:       make(map[string]struct{}),
		dirtyCh:     make(chan struct{}, 1),
		known:       make(map[string]*knownPeer),
		peerDigests: make(map[string]PeerDigest),
		warnLimit:   newLogLimiter(time.Now),
		stop:        make(chan struct{}),
	}
	n.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       n.numNodes,
		RetransmitMult: c.Memberlist.RetransmitMult,
	}

	// The digest is built in the background, from the Delegate's hashes
	// (reading every state would load every object), so that a node with
	// millions of objects starts serving at once; until it is built, the
	// node takes no part in anti-entropy (see loadDigest).
	n.digest.beginLoad()

	mc := *c.Memberlist
	mc.Name = c.Name
	mc.Delegate = &mlDelegate{n: n}
	mc.Events = &mlEvents{n: n}
	mc.Alive = newAliveCheck(&mc)
	if c.NameConflict != nil {
		mc.Conflict = &mlConflict{name: c.Name, report: c.NameConflict}
	}
	if mc.Logger == nil && mc.LogOutput == nil {
		mc.Logger = n.memberlistLogger()
	}
	ml, err := memberlist.Create(&mc)
	if err != nil {
		return nil, fmt.Errorf("create memberlist: %w", err)
	}
	if !isMember(ml, c.Name) {
		// The alive check refused this node's own alive message: its
		// transport advertised an address no peer could reach.
		_ = ml.Shutdown()
		return nil, fmt.Errorf("%w: memberlist advertises this node at an invalid address", ErrConfig)
	}
	n.ml = ml
	n.mlp.Store(ml)
	// memberlist keeps writing the *Node LocalNode returns; copy it now,
	// before anyone else can reach this node.
	n.self = memberOf(ml.LocalNode())
	n.self.State = "alive"

	n.wg.Go(n.loadDigest)
	n.wg.Go(n.localWorker)
	for range c.InboundWorkers {
		n.wg.Go(n.inboundWorker)
	}
	n.wg.Go(n.reliableWorker)
	n.wg.Go(n.repairWorker)
	n.wg.Go(n.controlWorker)
	n.wg.Go(n.reconnectLoop)
	return n, nil
}

// loadDigest builds the digest from Delegate.Hashes. Until it is done the
// node neither offers repairs nor asks for any (its digest is partial: a
// repair on its word would resend objects both sides hold), but it sends
// and merges deltas as usual. Keys that change meanwhile are hashed from
// their state by the local worker, and the load leaves them alone.
func (n *Node) loadDigest() {
	start := time.Now()
	keys := 0
	n.del.Hashes(func(key string, h uint64) bool {
		if n.hashed(key) && h != 0 {
			n.digest.loadHash(key, h)
			keys++
		}
		select {
		case <-n.stop:
			return false
		default:
			return true
		}
	})
	n.digest.endLoad()
	n.log.Info("anti-entropy digest loaded", "keys", keys, "took", time.Since(start).Round(time.Millisecond))
}

// DigestLoaded reports whether the digest built at start from the
// Delegate's hashes is complete. Until then the node takes no part in
// anti-entropy repair.
func (n *Node) DigestLoaded() bool { return n.digest.loaded() }

func (n *Node) numNodes() int {
	if ml := n.mlp.Load(); ml != nil {
		return ml.NumMembers()
	}
	return 1
}

// Join contacts seeds (host:port) and exchanges state with every one that
// answers. Seeds are remembered for the reconnect loop. If none answers,
// Join retries until ctx is done and then returns an error; it returns the
// number of seeds reached.
func (n *Node) Join(ctx context.Context, seeds []string) (int, error) {
	if n.shutdown.Load() {
		return 0, errors.New("join: node is shut down")
	}
	n.pmu.Lock()
	for _, s := range seeds {
		if !contains(n.seeds, s) {
			n.seeds = append(n.seeds, s)
		}
	}
	n.pmu.Unlock()
	if len(seeds) == 0 {
		return 0, nil
	}
	retry := 200 * time.Millisecond
	for {
		k, err := n.ml.Join(seeds)
		if k > 0 {
			if err != nil {
				n.log.Debug("some seeds unreachable", "err", oneLine(err))
			}
			return k, nil
		}
		// Debug: the caller reports a failed Join (the daemon once per
		// retry period, and in /readyz); this loop retries every few
		// hundred milliseconds.
		n.log.Debug("no seed reachable", "seeds", seeds, "err", oneLine(err))
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("join %v: %s (%w)", seeds, oneLine(err), ctx.Err())
		case <-n.stop:
			t.Stop()
			return 0, fmt.Errorf("join %v: node is shut down", seeds)
		case <-t.C:
		}
		retry = min(2*retry, 5*time.Second)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Publish hands a fresh local delta of key to gossip. Call it after the
// change is durably committed. It never blocks: if the outbound queue is
// full, the delta is dropped (counted) and anti-entropy carries the change.
// Gossip keeps delta until it is sent: the caller must not modify it after
// the call.
func (n *Node) Publish(key string, delta []byte, originTime time.Time) {
	n.stats.published.Add(1)
	n.markDirty(key)
	if n.cfg.DisableDeltas || n.shutdown.Load() || n.numNodes() <= 1 {
		return // alone, nobody to tell: a node that joins later catches up by anti-entropy
	}
	var ns int64
	if !originTime.IsZero() {
		ns = originTime.UnixNano()
	}
	select {
	case n.pubCh <- localDelta{key: key, data: delta, originTime: ns}:
	default:
		n.stats.droppedOutbound.Add(1)
	}
}

// Updated tells gossip that key's state changed by some path other than
// Publish or a merge from gossip (for example a load from disk). Gossip
// recomputes the key's digest entry from Delegate.State soon after. It
// never blocks.
func (n *Node) Updated(key string) { n.markDirty(key) }

// markDirty schedules key's digest entry for recomputation by the local
// worker; one goroutine doing all recomputations keeps the order of State
// reads and digest writes the same. Only the first key after a flush wakes
// the worker: the flush it schedules takes every key marked until then,
// and waking it on every write would cost a goroutine switch per write.
func (n *Node) markDirty(key string) {
	if !n.hashed(key) {
		return
	}
	n.dmu.Lock()
	first := len(n.dirty) == 0
	n.dirty[key] = struct{}{}
	n.dmu.Unlock()
	if !first {
		return
	}
	select {
	case n.dirtyCh <- struct{}{}:
	default:
	}
}

// hashed reports whether key belongs in the digest (see Config.SkipDigest).
func (n *Node) hashed(key string) bool {
	return n.cfg.SkipDigest == nil || !n.cfg.SkipDigest(key)
}

// takeDirty returns the keys marked since the last call (nil if none) and
// starts a new set.
func (n *Node) takeDirty() map[string]struct{} {
	n.dmu.Lock()
	defer n.dmu.Unlock()
	keys := n.dirty
	if len(keys) == 0 {
		return nil // a tick that finds nothing new allocates nothing
	}
	n.dirty = make(map[string]struct{})
	return keys
}

// flushDirty recomputes the digest entries of all dirty keys now.
func (n *Node) flushDirty() {
	for k := range n.takeDirty() {
		n.rehash(k)
	}
}

// hashDue hands sched the keys marked since its last tick and recomputes
// the digest entries of the keys it says are due.
func (n *Node) hashDue(sched *hashSchedule, now time.Time) {
	for _, k := range sched.tick(now, n.takeDirty()) {
		n.rehash(k)
	}
}

// rehash sets key's digest entry from its current state.
func (n *Node) rehash(key string) {
	data, ok := n.del.State(key)
	n.digest.set(key, data, ok)
}

// Digest returns the current root hash of the local digest. Nodes holding
// equal objects have equal roots; an empty node has root 0. A change is
// reflected within Config.DigestDelay once its key stops changing, and
// within Config.DigestMaxDelay while it goes on changing.
func (n *Node) Digest() (root uint64) { return n.digest.Root() }

// PeerDigests returns, per alive peer, what the last digest under its name
// told us (see [PeerDigest]). The map is a fresh copy; peers that died or
// left are not in it.
func (n *Node) PeerDigests() map[string]PeerDigest {
	n.pmu.Lock()
	defer n.pmu.Unlock()
	out := make(map[string]PeerDigest, len(n.peerDigests))
	for k, v := range n.peerDigests {
		out[k] = v
	}
	return out
}

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats() Stats { return n.stats.snapshot() }

// LocalMember returns this node as a Member.
func (n *Node) LocalMember() Member {
	return n.self.clone()
}

// Members returns this node and every peer seen within ReconnectTimeout,
// alive, dead or left, sorted by name.
func (n *Node) Members() []Member {
	n.pmu.Lock()
	out := make([]Member, 0, len(n.known)+1)
	out = append(out, n.self.clone())
	for _, p := range n.known {
		out = append(out, p.Member.clone())
	}
	n.pmu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// clone returns m with its own copy of Meta, so callers never share the
// peers table's maps.
func (m Member) clone() Member {
	m.Meta = maps.Clone(m.Meta)
	return m
}

func memberOf(nd *memberlist.Node) Member {
	m := Member{Name: nd.Name, Addr: net.JoinHostPort(nd.Addr.String(), strconv.Itoa(int(nd.Port)))}
	if meta, err := decodeMeta(nd.Meta); err == nil {
		m.Meta = meta.Entries
	}
	return m
}

// Leave announces to the cluster that this node leaves and waits up to
// timeout for the announcement to go out. The node keeps running until
// Shutdown; it cannot rejoin (memberlist's rule): Shutdown and create a
// new Node. Calling Leave again returns the first result.
func (n *Node) Leave(timeout time.Duration) error {
	n.leaveOnce.Do(func() {
		if n.shutdown.Load() {
			n.leaveErr = errors.New("leave: node is shut down")
			return
		}
		// Flag the leave in our meta first so peers can tell "left" from
		// "dead" (memberlist does not expose the difference).
		n.leaving.Store(true)
		start := time.Now()
		if err := n.ml.UpdateNode(timeout / 2); err != nil {
			n.log.Debug("announce leaving", "err", err)
		}
		if err := n.ml.Leave(max(timeout-time.Since(start), timeout/2)); err != nil {
			n.leaveErr = fmt.Errorf("leave: %w", err)
		}
	})
	return n.leaveErr
}

// Shutdown stops the workers and memberlist without telling the cluster
// (call Leave first for a graceful exit) and waits for every goroutine gossip
// started. Queued deltas not yet sent are left to anti-entropy on the peers.
// Calling Shutdown again returns the first result.
func (n *Node) Shutdown() error {
	n.shutOnce.Do(func() {
		n.shutdown.Store(true)
		close(n.stop)
		if err := n.ml.Shutdown(); err != nil {
			n.shutErr = fmt.Errorf("shutdown memberlist: %w", err)
		}
		n.wg.Wait()
	})
	return n.shutErr
}
