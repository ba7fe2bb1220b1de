package gossip

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRepairOneObject measures what anti-entropy sends to repair one
// object: two nodes hold N equal objects (genDelegate, 150-byte states),
// deltas are off, and each iteration changes one object on one node and
// waits until the other holds it and both are idle. It reports per
// repaired object the repair bytes and objects both nodes sent
// (Stats.BytesSentRepair, ObjectsSentRepair: each end sends its own
// objects of what differs), the offers and wants both sent
// (BytesSentControl) and every byte on the nodes' streams (push/pull
// digests, offers, wants and repairs). Run with a fixed count, e.g.
// -bench RepairOneObject -benchtime 5x.
func BenchmarkRepairOneObject(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if v := os.Getenv("REPAIR_BENCH_N"); v != "" { // e.g. 5000000
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("REPAIR_BENCH_N=%q: want a positive number", v)
		}
		sizes = []int{n}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			c := newTestCluster(b, func(_ int, cfg *Config) { cfg.DisableDeltas = true })
			da, db := newGenDelegate(n), newGenDelegate(n)
			na, _ := c.startWith(0, da, 0)
			nb, _ := c.startWith(1, db, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := nb.Join(ctx, []string{na.LocalMember().Addr}); err != nil {
				b.Fatal(err)
			}
			nodes := []*Node{na, nb}
			waitFor(b, 20*time.Second+time.Duration(n/10_000)*time.Second, func() (bool, string) {
				return na.ml.NumMembers() == 2 && nb.ml.NumMembers() == 2 && na.Digest() == nb.Digest(), "not joined and in sync"
			})
			sum := func(f func(Stats) uint64) uint64 { return f(na.Stats()) + f(nb.Stats()) }
			var repairBytes, objects, control, streamBytes uint64
			for i := 0; b.Loop(); i++ {
				key := genKey(i * 7919 % n)
				b0, o0, s0 := sum(func(s Stats) uint64 { return s.BytesSentRepair }), sum(func(s Stats) uint64 { return s.ObjectsSentRepair }), c.net.streamBytes.Load()
				c0 := sum(func(s Stats) uint64 { return s.BytesSentControl })
				want := da.bump(key)
				na.Updated(key)
				waitFor(b, 60*time.Second, func() (bool, string) {
					got, _ := db.State(key)
					return bytes.Equal(got, want) && na.Digest() == nb.Digest() && repairIdle(nodes...), "not repaired"
				})
				repairBytes += sum(func(s Stats) uint64 { return s.BytesSentRepair }) - b0
				objects += sum(func(s Stats) uint64 { return s.ObjectsSentRepair }) - o0
				control += sum(func(s Stats) uint64 { return s.BytesSentControl }) - c0
				streamBytes += uint64(c.net.streamBytes.Load() - s0)
			}
			k := float64(b.N)
			b.ReportMetric(float64(repairBytes)/k, "repair-B/obj")
			b.ReportMetric(float64(objects)/k, "objs-sent/obj")
			b.ReportMetric(float64(control)/k, "offer+want-B/obj")
			b.ReportMetric(float64(streamBytes)/k, "stream-B/obj")
		})
	}
}

// repairIdle reports whether no node has a repair offer pending, a repair
// queued or running, or a message waiting in a queue.
func repairIdle(nodes ...*Node) bool {
	for _, n := range nodes {
		n.offers.mu.Lock()
		offers := len(n.offers.m)
		n.offers.mu.Unlock()
		n.rmu.Lock()
		busy := len(n.repairBusy)
		n.rmu.Unlock()
		if offers+busy+len(n.repairCh)+len(n.ctrlCh)+len(n.inCh) > 0 {
			return false
		}
	}
	return true
}
