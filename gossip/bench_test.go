package gossip

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkConvergence measures the time from Publish on a random node
// until every node holds the change (loopback, local profile, in-process),
// with direct push off, to 16 random peers (the default) and to all. A
// change some node lacks after 10 s counts as missed (repair, which would
// bring it, is held off) and as 10 s. Run with a fixed count, e.g.
// -bench Convergence -benchtime 100x.
func BenchmarkConvergence(b *testing.B) {
	sizes := []int{3, 10}
	if os.Getenv("GOSSIP_BIG") != "" {
		sizes = append(sizes, 50)
	}
	for _, n := range sizes {
		for _, direct := range []int{0, 16, n - 1} {
			if direct == 16 && n-1 <= 16 {
				continue // the same as pushing to every peer
			}
			b.Run(fmt.Sprintf("N=%d/direct=%d", n, direct), func(b *testing.B) {
				c := newTestCluster(b, func(_ int, cfg *Config) {
					cfg.DirectPushPeers = direct
					cfg.Memberlist.PushPullInterval = 30 * time.Second // measure gossip, not repair
				})
				c.grow(n)
				c.waitMembers(n, 60*time.Second)
				var lat []time.Duration
				missed := 0 // changes some node did not get by gossip within 10 s
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					src := rand.IntN(n)
					key, elem := "bench"+strconv.Itoa(i%64), "e"+strconv.Itoa(i)
					start := time.Now()
					c.write(src, key, elem)
					for j := 0; j < n; {
						if c.dels[j].has(key, elem) {
							j++
							continue
						}
						if time.Since(start) > 10*time.Second {
							missed++
							break
						}
						time.Sleep(100 * time.Microsecond)
					}
					lat = append(lat, time.Since(start))
				}
				b.StopTimer()
				b.ReportMetric(float64(missed), "missed")
				slices.Sort(lat)
				var sum time.Duration
				for _, l := range lat {
					sum += l
				}
				ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
				b.ReportMetric(ms(sum/time.Duration(len(lat))), "mean-ms")
				b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
				b.ReportMetric(ms(lat[len(lat)-1]), "worst-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkDigestBytes reports the size of the anti-entropy digest
// (LocalState) for 100 and 100,000 objects: what each side sends per
// push/pull besides memberlist's own membership state.
func BenchmarkDigestBytes(b *testing.B) {
	for _, objs := range []int{100, 100_000} {
		b.Run(strconv.Itoa(objs), func(b *testing.B) {
			d := newSetDelegate()
			for i := range objs {
				d.add("cart-"+strconv.Itoa(i), "item")
			}
			c := newTestCluster(b, nil)
			n := c.start(0, d, 0)
			md := &mlDelegate{n: n}
			var size int
			for b.Loop() {
				size = len(md.LocalState(false))
			}
			b.ReportMetric(float64(size), "bytes/digest")
		})
	}
}

// BenchmarkInSyncExchangeBytes measures what one anti-entropy round costs
// on the wire between two nodes already in sync: memberlist's push/pull
// stream both ways (membership state plus our digest), for 100 and 100,000
// objects. The target is that it does not grow with the data.
func BenchmarkInSyncExchangeBytes(b *testing.B) {
	for _, objs := range []int{100, 100_000} {
		b.Run(strconv.Itoa(objs), func(b *testing.B) {
			c := newTestCluster(b, nil)
			for i := range 2 {
				d := newSetDelegate()
				for k := range objs {
					d.add("cart-"+strconv.Itoa(k), "item")
				}
				c.start(i, d, 0)
			}
			c.join(c.nodes[1], 0)
			c.waitMembers(2, 20*time.Second)
			exchanges := func() uint64 { return c.nodes[0].Stats().DigestExchanges + c.nodes[1].Stats().DigestExchanges }
			for b.Loop() {
				start, bytes0 := exchanges(), c.net.streamBytes.Load()
				deadline := time.Now().Add(30 * time.Second)
				for exchanges() < start+2 { // one exchange is seen by both sides
					if time.Now().After(deadline) {
						b.Fatal("no push/pull exchange within 30 s")
					}
					time.Sleep(5 * time.Millisecond)
				}
				b.ReportMetric(float64(c.net.streamBytes.Load()-bytes0), "bytes/exchange")
			}
			for i, n := range c.nodes {
				if st := n.Stats(); st.ObjectsSentRepair != 0 {
					b.Fatalf("node %d repaired %d objects: the nodes were not in sync", i, st.ObjectsSentRepair)
				}
			}
		})
	}
}

// BenchmarkCatchUp measures how long a node that missed 10,000 updates
// takes to catch up after it rejoins, and the repair bytes it receives.
func BenchmarkCatchUp(b *testing.B) {
	const updates = 10_000
	for b.Loop() {
		b.StopTimer()
		c := newTestCluster(b, nil)
		c.grow(2)
		c.waitMembers(2, 20*time.Second)
		if err := c.nodes[1].Shutdown(); err != nil {
			b.Fatal(err)
		}
		for i := range updates {
			c.dels[0].add("k"+strconv.Itoa(i%5000), "u"+strconv.Itoa(i))
			c.nodes[0].Updated("k" + strconv.Itoa(i%5000))
		}
		b.StartTimer()
		start := time.Now()
		n := c.start(1, c.dels[1], c.ports[1])
		c.join(n, 0)
		c.waitConverged(60 * time.Second)
		b.ReportMetric(float64(time.Since(start))/float64(time.Millisecond), "catchup-ms")
		b.ReportMetric(float64(n.Stats().BytesRecvRepair), "repair-bytes")
		b.ReportMetric(float64(n.Stats().BytesRecvRepair+c.nodes[0].Stats().BytesRecvRepair), "repair-bytes-both")
	}
	b.ReportMetric(0, "ns/op")
}
