package gossip

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// queuedMsg decodes the broadcast currently queued for key.
func queuedMsg(t *testing.T, n *Node, key string) deltaMsg {
	t.Helper()
	n.bmu.Lock()
	b := n.queued[key]
	n.bmu.Unlock()
	if b == nil || b.done.Load() {
		t.Fatalf("nothing queued for %q", key)
	}
	m, err := decodeDelta(b.msg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestQueuedBroadcastHoldsJoin checks the queued-delta join strategy: the
// queued message of a key always carries all still-queued deltas.
func TestQueuedBroadcastHoldsJoin(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.DirectPushPeers = 0 })
	n := c.start(0, newSetDelegate(), 0)
	d := c.dels[0]
	enqueue := func(key, elem string, at int64) {
		d.add(key, elem)
		n.enqueueBroadcast(deltaMsg{Origin: "r", Key: key, OriginTime: at, Parts: [][]byte{[]byte(elem)}})
	}

	// Small deltas: carried together, oldest origin time kept.
	enqueue("k", "a", 20)
	enqueue("k", "b", 10)
	enqueue("k", "c", 30)
	m := queuedMsg(t, n, "k")
	if got := len(m.Parts); got != 3 || m.OriginTime != 10 {
		t.Fatalf("got %d parts at %d, want 3 at 10", got, m.OriginTime)
	}
	if got := n.queue.NumQueued(); got != 1 {
		t.Fatalf("got %d queued broadcasts, want 1", got)
	}

	// Invariant: the queued parts join to the full state (nothing was sent,
	// as the node has no peers). Past the part limit or packet budget the
	// full state replaces the parts.
	for i := range 70 {
		enqueue("k", "e"+strings.Repeat("x", 5)+string(rune('A'+i%26))+string(rune('a'+i/26)), 40)
		m = queuedMsg(t, n, "k")
		u := newSetDelegate()
		for _, p := range m.Parts {
			_, _ = u.Merge("k", p, MergeInfo{})
		}
		got, _ := u.State("k")
		want, _ := d.State("k")
		if string(got) != string(want) {
			t.Fatalf("after %d: queued parts join to %q, want %q", i, got, want)
		}
	}
	if got := len(m.Parts); got >= 73 {
		t.Fatalf("got %d parts, want the full state to have replaced them", got)
	}

	// When even the full state does not fit, the newest delta replaces the
	// queued broadcast (anti-entropy repairs the rest), counted as dropped,
	// and nothing goes by reliable send.
	var last string
	for i := range 200 {
		last = strings.Repeat("y", 10) + string(rune('A'+i%26)) + string(rune('A'+i/26))
		enqueue("k", last, 50)
	}
	m = queuedMsg(t, n, "k")
	if len(m.Parts) == 0 || len(m.Parts) > maxParts {
		t.Fatalf("queued %d parts, want 1..%d", len(m.Parts), maxParts)
	}
	if got := string(m.Parts[len(m.Parts)-1]); got != last {
		t.Fatalf("queued parts end in %q, want the newest delta %q", got, last)
	}
	st := n.Stats()
	if st.DroppedBroadcasts == 0 || st.ReliableQueued != 0 {
		t.Fatalf("oversize join: %d dropped broadcasts, %d reliable sends; want some and none", st.DroppedBroadcasts, st.ReliableQueued)
	}
	if st.Combined == 0 {
		t.Fatal("Combined not counted")
	}
}

// TestSkipDigestKeys checks keys outside the digest: a newer delta of one
// whose broadcast is queued replaces it with the key's state (one part, not
// a pile), and the digest never holds them.
func TestSkipDigestKeys(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, func(_ int, cfg *Config) {
		cfg.DirectPushPeers = 0
		cfg.DigestDelay = -1
		cfg.SkipDigest = func(key string) bool { return strings.HasPrefix(key, "beat/") }
	})
	n := c.start(0, newSetDelegate(), 0)
	d := c.dels[0]
	for i := range 10 {
		elem := "e" + string(rune('a'+i))
		d.add("beat/x", elem)
		n.enqueueBroadcast(deltaMsg{Origin: "r", Key: "beat/x", Parts: [][]byte{[]byte(elem)}})
	}
	m := queuedMsg(t, n, "beat/x")
	want, _ := d.State("beat/x")
	if len(m.Parts) != 1 || string(m.Parts[0]) != string(want) {
		t.Fatalf("queued parts %q, want the state %q alone", m.Parts, want)
	}

	// A skipped key whose state is unknown never piles up more parts than a
	// message may carry.
	for i := range 2 * maxParts {
		n.enqueueBroadcast(deltaMsg{Origin: "r", Key: "beat/unknown", Parts: [][]byte{{byte(i)}}})
		if m := queuedMsg(t, n, "beat/unknown"); len(m.Parts) > maxParts {
			t.Fatalf("after %d deltas: %d parts queued, want at most %d", i+1, len(m.Parts), maxParts)
		}
	}
	if n.Stats().ReliableQueued == 0 {
		t.Fatal("deltas beyond the part limit were not sent beside the queued broadcast")
	}

	n.Updated("beat/x")
	n.flushDirty()
	if got := n.Digest(); got != 0 {
		t.Fatalf("digest root %x with only a skipped key, want 0", got)
	}
	d.add("cart", "a")
	n.Updated("cart")
	n.flushDirty()
	if n.Digest() == 0 {
		t.Fatal("digest root 0 after a hashed key changed")
	}
}

// TestDirectPushPeers checks that a fresh delta goes directly to
// DirectPushPeers peers when the cluster has more, and still reaches all.
func TestDirectPushPeers(t *testing.T) {
	t.Parallel()
	const nodes, direct = 5, 2
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.DirectPushPeers = direct })
	c.grow(nodes)
	c.waitMembers(nodes, 30*time.Second)
	c.write(0, "k", "a")
	c.waitConverged(30 * time.Second)
	receivers := func() (n int) {
		for _, nd := range c.nodes[1:] {
			if nd.Stats().DeltasRecvDirect > 0 {
				n++
			}
		}
		return n
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		return receivers() >= direct, fmt.Sprintf("%d peers got a direct push", receivers())
	})
	if got := c.nodes[0].Stats().DeltasSentDirect; got != direct {
		t.Fatalf("sent %d direct pushes to %d peers, want %d", got, nodes-1, direct)
	}
	if got := receivers(); got != direct {
		t.Fatalf("%d distinct peers got a direct push, want %d", got, direct)
	}
}

// TestDirectPushRelay checks that peers relay a pushed delta only when the
// origin did not push it to all of them.
func TestDirectPushRelay(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		nodes, push int
		wantRelays  bool
	}{
		{"push-reaches-all", 3, 16, false},
		{"push-reaches-some", 4, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, func(_ int, cfg *Config) {
				cfg.DirectPushPeers = tt.push
				if !tt.wantRelays {
					// No gossip rounds or probes, on which memberlist
					// piggybacks broadcasts: the direct push is the only
					// way the delta arrives. (A delta that arrives by the
					// origin's broadcast first is relayed, rightly, and
					// under load it sometimes does.)
					cfg.Memberlist.GossipInterval = time.Hour
					cfg.Memberlist.ProbeInterval = time.Hour
				}
			})
			c.grow(tt.nodes)
			c.waitMembers(tt.nodes, 30*time.Second)
			c.write(0, "k", "a")
			c.waitConverged(30 * time.Second)
			relays := func() (n uint64) {
				for _, nd := range c.nodes[1:] {
					n += nd.Stats().Relayed
				}
				return n
			}
			if tt.wantRelays { // a relay is counted just after its merge
				waitFor(t, 10*time.Second, func() (bool, string) { return relays() > 0, "no relay" })
			}
			if relays := relays(); (relays > 0) != tt.wantRelays {
				t.Fatalf("%d relays by the receivers, want relays: %v", relays, tt.wantRelays)
			}
		})
	}
}

// lockCheckDelegate counts the State calls made while the broadcast lock
// (bmu) is held by anyone, which in a test with one enqueuing goroutine and
// no other State caller means by the caller itself.
type lockCheckDelegate struct {
	*setDelegate
	n                 atomic.Pointer[Node]
	states, underLock atomic.Int64
}

func (d *lockCheckDelegate) State(key string) ([]byte, bool) {
	if n := d.n.Load(); n != nil {
		d.states.Add(1)
		if n.bmu.TryLock() {
			n.bmu.Unlock()
		} else {
			d.underLock.Add(1)
		}
	}
	return d.setDelegate.State(key)
}

// newLoneNode starts a node without peers, whose digest worker stays idle
// (DigestDelay of an hour), so only enqueueBroadcast calls Delegate.State.
func newLoneNode(t *testing.T, d Delegate) *Node {
	t.Helper()
	cfg := testConfig(t)
	cfg.Name = "lone-" + randHex(t, 3)
	cfg.Memberlist.Label = "test-" + randHex(t, 4)
	cfg.DirectPushPeers = 0
	cfg.DigestDelay = time.Hour
	cfg.Delegate = d
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	return n
}

// TestStateOutsideBroadcastLock checks that joining a delta with a queued
// broadcast reads the key's state without holding the broadcast lock, as
// the Delegate doc promises.
func TestStateOutsideBroadcastLock(t *testing.T) {
	t.Parallel()
	d := &lockCheckDelegate{setDelegate: newSetDelegate()}
	n := newLoneNode(t, d)
	d.n.Store(n)
	for i := range 2 * maxParts {
		elem := fmt.Sprintf("e%03d", i)
		d.add("k", elem)
		n.enqueueBroadcast(deltaMsg{Origin: "o", Key: "k", Parts: [][]byte{[]byte(elem)}})
	}
	if d.states.Load() == 0 {
		t.Fatal("State never called: the test no longer reaches the full-state path")
	}
	if got := d.underLock.Load(); got != 0 {
		t.Fatalf("%d of %d State calls with the broadcast lock held, want 0", got, d.states.Load())
	}
}

// TestConcurrentEnqueueHoldsJoin enqueues deltas of one key from several
// goroutines, as the inbound workers and the local worker do, past the part
// limit so that the key's state, read outside the lock, replaces the parts;
// the queued broadcast must still join to the key's full state. It is for
// the race detector: TestEnqueueRereadsState forces the interleaving that
// matters.
func TestConcurrentEnqueueHoldsJoin(t *testing.T) {
	t.Parallel()
	d := newSetDelegate()
	n := newLoneNode(t, d)
	// 120 deltas, more than fit one message; a state of 599 bytes, which
	// does: every join is exact, none is dropped.
	const writers, each = 3, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				elem := fmt.Sprintf("%d%03d", w, i)
				d.add("k", elem)
				n.enqueueBroadcast(deltaMsg{Origin: "o", Key: "k", Parts: [][]byte{[]byte(elem)}})
			}
		})
	}
	wg.Wait()
	if st := n.Stats(); st.DroppedBroadcasts != 0 || st.ReliableQueued != 0 {
		t.Fatalf("%d dropped broadcasts, %d reliable sends; want none (state too large for the test?)", st.DroppedBroadcasts, st.ReliableQueued)
	}
	m := queuedMsg(t, n, "k")
	u := newSetDelegate()
	for _, p := range m.Parts {
		_, _ = u.Merge("k", p, MergeInfo{})
	}
	got, _ := u.State("k")
	want, _ := d.State("k")
	if string(got) != string(want) {
		t.Fatalf("queued parts join to %d bytes, want the state's %d bytes", len(got), len(want))
	}
}

// hookDelegate runs hook once, in the first State call made after it was
// set, after the state was read.
type hookDelegate struct {
	*setDelegate
	hook atomic.Pointer[func()]
}

func (d *hookDelegate) State(key string) ([]byte, bool) {
	data, ok := d.setDelegate.State(key)
	if h := d.hook.Swap(nil); h != nil {
		(*h)()
	}
	return data, ok
}

// TestEnqueueRereadsState forces the interleaving enqueueBroadcast's loop
// exists for: while one caller reads the key's state outside the lock,
// another merges a delta of the key and queues the state that holds it.
// The first caller's state lacks that delta, so it must not replace the
// broadcast carrying it: it must read the state again.
func TestEnqueueRereadsState(t *testing.T) {
	t.Parallel()
	d := &hookDelegate{setDelegate: newSetDelegate()}
	n := newLoneNode(t, d)
	enqueue := func(elem string) {
		d.add("k", elem)
		n.enqueueBroadcast(deltaMsg{Origin: "o", Key: "k", Parts: [][]byte{[]byte(elem)}})
	}
	for i := range maxParts { // fill the queued broadcast's parts
		enqueue(fmt.Sprintf("a%02d", i))
	}
	// Sizes: the full state (607 bytes) fits a message alone, not beside
	// next (150 bytes), so after late is queued the first caller has to
	// send a state, and the one it read first lacks late.
	late := "late" + strings.Repeat("x", 196)
	next := "next" + strings.Repeat("n", 146)
	hook := func() {
		var wg sync.WaitGroup
		wg.Go(func() { enqueue(late) }) // another worker, meanwhile
		wg.Wait()
	}
	d.hook.Store(&hook)
	enqueue(next) // past the part limit: reads the state
	if d.hook.Load() != nil {
		t.Fatal("State not called: the test no longer reaches the full-state path")
	}
	m := queuedMsg(t, n, "k")
	u := newSetDelegate()
	for _, p := range m.Parts {
		_, _ = u.Merge("k", p, MergeInfo{})
	}
	for _, elem := range []string{late, next, "a00"} {
		if !u.has("k", elem) {
			t.Fatalf("queued broadcast (%d parts) lacks %.8q...", len(m.Parts), elem)
		}
	}
	if st := n.Stats(); st.DroppedBroadcasts != 0 {
		t.Fatalf("%d dropped broadcasts, want 0", st.DroppedBroadcasts)
	}
}
