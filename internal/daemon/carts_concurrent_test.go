package daemon

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
)

// TestCartTableConcurrentCold runs local writers, a peer's merges,
// readers (views, states, the digest's hashes) and a persister at once on
// a table whose cache holds nothing that may leave, so carts are loaded,
// written, merged, saved and dropped all the time, and checks that no add
// is lost: the carts end with one apple per local add and one pear per
// add of the peer. Run it with -race.
func TestCartTableConcurrentCold(t *testing.T) {
	t.Parallel()
	const (
		writers   = 6
		perWriter = 150
		nCarts    = 12
	)
	self, err := crdt.NewHLC("r-self")
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics()
	disk := newMemStore()
	cs := newCarts("r-self", newNodeClock(self, 0, time.Hour, m.rejected), m, disk, 1, func(string, bool) {})

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() { // the persister
		for !stop.Load() {
			b := cs.takeDirty()
			disk.commit(b)
			cs.saved(b)
		}
	})
	for r := range 2 { // readers
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if _, err := cs.view(fmt.Sprintf("cart-%d", (i+r)%nCarts)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for r := range 2 { // readers of states and hashes, as gossip is
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				cs.state(fmt.Sprintf("cart-%d", (i+r)%nCarts))
				if i%50 == 0 {
					if err := cs.eachHash(func(string, uint64) bool { return true }); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	const peerAdds = 300
	var writersWG sync.WaitGroup
	writersWG.Go(func() { // a peer's deltas, merged while local writes run
		peer, err := crdt.NewHLC("r-peer")
		if err != nil {
			t.Error(err)
			return
		}
		carts := map[string]*cart.Cart{}
		for i := range peerAdds {
			id := fmt.Sprintf("cart-%d", i%nCarts)
			if carts[id] == nil {
				carts[id] = cart.New()
			}
			delta, err := carts[id].Add(peer.Now(time.Now()), "pear", 1)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := delta.MarshalBinary()
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := cs.merge(id, b, gossip.MergeInfo{Channel: gossip.ChannelDelta}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for w := range writers {
		writersWG.Go(func() {
			for i := range perWriter {
				id := fmt.Sprintf("cart-%d", (w*perWriter+i)%nCarts)
				o, err := cs.lockForWrite(id)
				if err != nil {
					t.Error(err)
					return
				}
				delta, _, ed, err := cs.edit(o, "apple", cs.clock.stamp(), func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error) {
					return c.Add(ts, "apple", 1)
				})
				if err != nil {
					cs.unlockWrite(o)
					t.Error(err)
					return
				}
				cs.install(o, delta, ed)
				cs.unlockWrite(o)
			}
		})
	}
	writersWG.Wait()
	stop.Store(true)
	wg.Wait()

	total := map[string]uint64{}
	for c := range nCarts {
		v, err := cs.view(fmt.Sprintf("cart-%d", c))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range v.Lines {
			total[l.Item] += l.Quantity
		}
	}
	if want := uint64(writers * perWriter); total["apple"] != want {
		t.Fatalf("the carts hold %d apples, want %d: local adds were lost", total["apple"], want)
	}
	if total["pear"] != peerAdds {
		t.Fatalf("the carts hold %d pears, want %d: the peer's adds were lost", total["pear"], peerAdds)
	}
	if loads := testutil.ToFloat64(m.cacheLoads); loads < nCarts {
		t.Fatalf("only %v loads from disk: the test did not run on cold carts", loads)
	}
}
