package daemon

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
)

// peerDelta returns the encoding of peer's first add, of one item, to a
// cart.
func peerDelta(t *testing.T, peer crdt.ReplicaID, item string) []byte {
	t.Helper()
	d, err := cart.New().Add(crdt.Timestamp{Wall: time.Now().UnixNano(), Replica: peer}, item, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setHeld(cs *carts, n int) {
	cs.mu.Lock()
	cs.nHeld = n
	cs.mu.Unlock()
}

func inTable(cs *carts, id string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.all[id] != nil
}

// TestNewCartsStopAtMaxObjects: a node holding maxObjects carts takes no
// new one, from a local write or from a peer, and leaves nothing behind;
// one cart fewer, it takes both. (The count is set directly: twenty
// million carts are not made for a test.)
func TestNewCartsStopAtMaxObjects(t *testing.T) {
	t.Parallel()
	cs := newInstallCarts(t)
	addOne := func(id string) error {
		o, err := cs.lockForWrite(id)
		if err != nil {
			return err
		}
		defer cs.unlockWrite(o)
		delta, _, ed, err := cs.edit(o, "x", cs.clock.stamp(), func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error) { return c.Add(ts, "x", 1) })
		if err != nil {
			cs.dropIfEmpty(o)
			return err
		}
		cs.install(o, delta, ed)
		return nil
	}
	setHeld(cs, maxObjects)
	if err := addOne("local"); !errors.Is(err, errTooManyObjs) {
		t.Fatalf("a local write to a new cart at %d carts: %v, want errTooManyObjs", maxObjects, err)
	}
	if _, err := cs.merge("remote", peerDelta(t, "r-peer", "y"), gossip.MergeInfo{Channel: gossip.ChannelDelta}); !errors.Is(err, errTooManyObjs) {
		t.Fatalf("a peer's new cart at %d carts: %v, want errTooManyObjs", maxObjects, err)
	}
	if inTable(cs, "local") || inTable(cs, "remote") {
		t.Fatal("a refused new cart was left in the table")
	}
	setHeld(cs, maxObjects-2)
	if err := addOne("local"); err != nil {
		t.Fatalf("a local write to a new cart below the limit: %v", err)
	}
	if _, err := cs.merge("remote", peerDelta(t, "r-peer", "y"), gossip.MergeInfo{Channel: gossip.ChannelDelta}); err != nil {
		t.Fatalf("a peer's new cart at the last place: %v", err)
	}
}

// TestMergeThatChangesNothingLeavesNoCart: merging into an unknown cart a
// state that holds nothing creates no cart in the table.
func TestMergeThatChangesNothingLeavesNoCart(t *testing.T) {
	t.Parallel()
	cs := newInstallCarts(t)
	empty, err := cart.New().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	changed, err := cs.merge("ghost", empty, gossip.MergeInfo{Channel: gossip.ChannelRepair})
	if err != nil || changed {
		t.Fatalf("merge of an empty cart: changed %v, err %v", changed, err)
	}
	if inTable(cs, "ghost") {
		t.Fatal("a merge that changed nothing left an empty cart in the table")
	}
}

// TestReplicationLagOnlyForTimedDeltas: the replication lag is observed
// for a delta that says when its change was made, and not for a repair or
// a delta without that time.
func TestReplicationLagOnlyForTimedDeltas(t *testing.T) {
	t.Parallel()
	cs := newInstallCarts(t)
	samples := func() uint64 {
		var m dto.Metric
		if err := cs.metrics.replicationLag.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	for i, info := range []gossip.MergeInfo{
		{Channel: gossip.ChannelRepair, OriginTime: time.Now()},
		{Channel: gossip.ChannelDelta},
	} {
		if _, err := cs.merge("c", peerDelta(t, crdt.ReplicaID(fmt.Sprintf("r-peer%d", i)), "x"), info); err != nil {
			t.Fatal(err)
		}
	}
	if got := samples(); got != 0 {
		t.Fatalf("%d lag samples from a repair and an untimed delta, want 0", got)
	}
	if _, err := cs.merge("c", peerDelta(t, "r-peer9", "x"), gossip.MergeInfo{Channel: gossip.ChannelDelta, OriginTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := samples(); got != 1 {
		t.Fatalf("%d lag samples after a timed delta, want 1", got)
	}
}

// TestEachHash: the digest's hashes come from the data file's index for
// carts saved since their last change, and from memory for carts changed
// since (a saved cart changed again, a new cart); an empty cart has none.
// Stopping the walk stops it, and the walk leaves nothing pinned.
func TestEachHash(t *testing.T) {
	t.Parallel()
	disk := newMemStore()
	cs := newModelCarts(t, disk, 1<<30)
	addInPlace(t, cs, "saved", "x", 1, nil)
	addInPlace(t, cs, "changed", "x", 1, nil)
	b := cs.takeDirty()
	disk.commit(b)
	cs.saved(b)
	addInPlace(t, cs, "changed", "y", 1, nil)
	addInPlace(t, cs, "new", "x", 1, nil)
	o, err := cs.lockForWrite("empty") // an object that never held anything
	if err != nil {
		t.Fatal(err)
	}
	defer cs.unlockWrite(o)

	want := map[string]uint64{}
	for _, id := range []string{"saved", "changed", "new"} {
		enc, ok := cs.state(id)
		if !ok {
			t.Fatalf("cart %s has no state", id)
		}
		want[cartKey(id)] = gossip.ObjectHash(cartKey(id), enc)
	}
	got := map[string]uint64{}
	if err := cs.eachHash(func(key string, h uint64) bool { got[key] = h; return true }); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("hashes %v, want %v", got, want)
	}
	calls := 0
	if err := cs.eachHash(func(string, uint64) bool { calls++; return false }); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("the walk called on %d times after being told to stop, want once", calls)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for id, o := range cs.all {
		if want := b2i(id == "empty"); o.pins != want {
			t.Fatalf("cart %s holds %d pins after the walks, want %d", id, o.pins, want)
		}
	}
}

// TestMergedCartReachesTheDataFile: a cart changed only by a peer (merges
// are not logged) is written to the data file by the next checkpoint,
// although the log is empty.
func TestMergedCartReachesTheDataFile(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.CheckpointInterval = 50 * time.Millisecond })
	if _, err := d.carts.merge("from-peer", peerDelta(t, "r-peer", "x"), gossip.MergeInfo{Channel: gossip.ChannelDelta}); err != nil {
		t.Fatal(err)
	}
	require.Eventually(t, func() bool {
		_, ok, err := d.store.Get(cartKey("from-peer"))
		return err == nil && ok
	}, 10*time.Second, 10*time.Millisecond, "the merged cart never reached the data file")
}
