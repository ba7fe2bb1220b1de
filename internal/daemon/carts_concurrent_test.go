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
)

// TestCartTableConcurrentCold runs writers, readers and a persister at
// once on a table whose cache holds nothing that may leave, so carts are
// loaded, written, saved and dropped all the time, and checks that no add
// is lost: every cart ends with one unit per add made to it. Run it with
// -race.
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
	var writersWG sync.WaitGroup
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

	total := uint64(0)
	for c := range nCarts {
		v, err := cs.view(fmt.Sprintf("cart-%d", c))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range v.Lines {
			total += l.Quantity
		}
	}
	if want := uint64(writers * perWriter); total != want {
		t.Fatalf("the carts hold %d units, want %d: adds were lost", total, want)
	}
	if loads := testutil.ToFloat64(m.cacheLoads); loads < nCarts {
		t.Fatalf("only %v loads from disk: the test did not run on cold carts", loads)
	}
}
