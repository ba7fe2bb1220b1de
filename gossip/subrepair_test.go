package gossip

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// startGenPair starts two nodes on genDelegates da and db and joins them.
func startGenPair(t *testing.T, c *testCluster, da, db *genDelegate) (a, b *Node) {
	t.Helper()
	a, _ = c.startWith(0, da, 0)
	b, _ = c.startWith(1, db, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := b.Join(ctx, []string{a.LocalMember().Addr}); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestRepairSendsOnlyDivergentSubBuckets changes one object of 50,000 on
// one of two nodes: repair must send the objects of its sub-bucket (about
// 2), not of its bucket (about 200), whatever the number of rounds.
func TestRepairSendsOnlyDivergentSubBuckets(t *testing.T) {
	t.Parallel()
	const objects = 50_000
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.DisableDeltas = true })
	da, db := newGenDelegate(objects), newGenDelegate(objects)
	a, b := startGenPair(t, c, da, db)
	waitFor(t, 20*time.Second, func() (bool, string) {
		return a.ml.NumMembers() == 2 && b.ml.NumMembers() == 2 && a.Digest() == b.Digest(), "not joined"
	})
	key := genKey(4242)
	want := da.bump(key)
	a.Updated(key)
	waitFor(t, 20*time.Second, func() (bool, string) {
		got, _ := db.State(key)
		return bytes.Equal(got, want) && a.Digest() == b.Digest() && repairIdle(a, b), "not repaired"
	})
	sa, sb := a.Stats(), b.Stats()
	sent := sa.ObjectsSentRepair + sb.ObjectsSentRepair
	t.Logf("sent %d objects (%d and %d repair bytes, %d and %d offer and want bytes) in %d+%d rounds",
		sent, sa.BytesSentRepair, sb.BytesSentRepair, sa.BytesSentControl, sb.BytesSentControl, sa.RepairRounds, sb.RepairRounds)
	if sa.KeysRepaired+sb.KeysRepaired != 1 {
		t.Errorf("%d keys repaired, want 1", sa.KeysRepaired+sb.KeysRepaired)
	}
	// Each end sends its objects of the sub-bucket, maybe in more than one
	// round; a whole bucket would be about 200 objects.
	if sent == 0 || sent > 24 {
		t.Errorf("sent %d objects to repair one, want a few", sent)
	}
	if got := sa.DivergentSubBuckets; got == 0 || got > 4 {
		t.Errorf("node a sent %d divergent sub-buckets, want 1 to 4", got)
	}
}

// TestRepairOffersEveryDifferingBucket: a node that lacks every object
// gets them all from one digest exchange, although one offer holds at most
// maxOfferBuckets buckets: each served want leads to the next offer.
func TestRepairOffersEveryDifferingBucket(t *testing.T) {
	t.Parallel()
	const objects = 5_000
	c := newTestCluster(t, func(_ int, cfg *Config) {
		cfg.DisableDeltas = true
		cfg.Memberlist.PushPullInterval = time.Hour // no exchange but the join's and ours
	})
	da, db := newGenDelegate(0), newGenDelegate(0)
	a, b := startGenPair(t, c, da, db)
	waitFor(t, 20*time.Second, func() (bool, string) {
		return a.ml.NumMembers() == 2 && b.ml.NumMembers() == 2 && repairIdle(a, b), "not joined"
	})
	da.grow(objects)
	for i := range objects {
		a.Updated(genKey(i))
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		return a.digest.snapshot().Keys == objects, "digest not updated"
	})
	before := a.Stats()
	// One push/pull exchange, as memberlist runs it on a's side.
	ma := &mlDelegate{n: a}
	ma.LocalState(false)
	ma.MergeRemoteState((&mlDelegate{n: b}).LocalState(false), false)
	waitFor(t, 30*time.Second, func() (bool, string) {
		db.mu.Lock()
		got := len(db.changed)
		db.mu.Unlock()
		return got == objects && a.Digest() == b.Digest(), fmt.Sprintf("node b holds %d of %d objects", got, objects)
	})
	st := a.Stats()
	if got := st.DigestExchanges - before.DigestExchanges; got != 1 {
		t.Errorf("%d digest exchanges, want ours only", got)
	}
	if got, min := st.RepairOffers-before.RepairOffers, uint64(digestBuckets/maxOfferBuckets); got < min {
		t.Errorf("%d offers, want at least %d", got, min)
	}
	if got := st.ObjectsSentRepair - before.ObjectsSentRepair; got != objects {
		t.Errorf("sent %d objects, want %d", got, objects)
	}
}

// TestOffersRateLimited sends a node digests under the name of a member in
// sync with it, as fast as it can for two seconds, each differing in every
// bucket: the node must offer at most RepairBytesPerSecond (plus a second's
// burst and one offer) however many digests come.
func TestOffersRateLimited(t *testing.T) {
	t.Parallel()
	const (
		objects = 20_000
		rate    = 4 << 10
	)
	c := newTestCluster(t, func(_ int, cfg *Config) {
		cfg.DisableDeltas = true
		cfg.Memberlist.PushPullInterval = time.Hour
		cfg.RepairBytesPerSecond, cfg.MaxRepairChunk = rate, rate
	})
	a, b := startGenPair(t, c, newGenDelegate(objects), newGenDelegate(objects))
	waitFor(t, 20*time.Second, func() (bool, string) {
		return a.ml.NumMembers() == 2 && b.ml.NumMembers() == 2 && repairIdle(a, b), "not joined"
	})
	d := &mlDelegate{n: a}
	start := time.Now()
	for i := 0; time.Since(start) < 2*time.Second; i++ {
		d.MergeRemoteState(forgedDigest(b.cfg.Name, uint64(i)), false)
		time.Sleep(time.Millisecond)
	}
	st := a.Stats()
	limit := uint64(rate*(time.Since(start).Seconds()+1)) + 34<<10
	t.Logf("%d offers of %d bytes in all, %d offers skipped as one was pending", st.RepairOffers, st.BytesSentControl, st.RepairsSkipped)
	if st.BytesSentControl > limit {
		t.Fatalf("sent %d bytes of offers in %v, want at most %d", st.BytesSentControl, time.Since(start), limit)
	}
	if st.ObjectsSentRepair != 0 {
		t.Errorf("sent %d objects to a member in sync", st.ObjectsSentRepair)
	}
}
