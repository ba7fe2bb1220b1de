package faults

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/testbin"
	"github.com/crdtd/crdtd/internal/testbin/mlwire"
)

// lists reports whether node i lists a member called name, in any state.
func lists(c *cluster, i int, name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ml, err := c.client(i).Members(ctx)
	if err != nil {
		c.t.Fatalf("members of %s: %v", c.nodes[i].name, err)
	}
	for _, m := range ml.Members {
		if m.Name == name {
			return true
		}
	}
	return false
}

// TestAliveWithoutVersions: a holder of the cluster key sends a node sealed
// alive packets, one plain and one compound, about members that carry no
// protocol versions. memberlist used to add such a member and then fail to
// merge every push/pull while it was listed, dead or alive, so crdtd saw no
// digest. Now the node refuses them (memberlist's warning, counted as a
// transport error), no node lists them, a digest pushed right after still
// reaches crdtd, and the nodes keep exchanging digests.
func TestAliveWithoutVersions(t *testing.T) {
	needBinaries(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, clusterOptions{nodes: 2, label: hostileLabel, key: key})
	addr := c.nodes[0].gossipAddr
	scrapeAll := func() (ms [2]metrics) {
		for i := range ms {
			m, err := c.scrape(i)
			if err != nil {
				t.Fatal(err)
			}
			ms[i] = m
		}
		return ms
	}
	before := scrapeAll()

	ghosts := []string{fmt.Sprintf("ghost-%d-a", os.Getpid()), fmt.Sprintf("ghost-%d-b", os.Getpid())}
	for _, msg := range [][]byte{mlwire.Alive(ghosts[0], freePort(t), nil), mlwire.Compound(mlwire.Alive(ghosts[1], freePort(t), nil))} {
		if err := sendUDP(addr, cat(mlwire.LabelHeader(hostileLabel), mlwire.Encrypt(key, msg, []byte(hostileLabel)))); err != nil {
			t.Fatal(err)
		}
	}
	// Handled: refused (each a warning, counted) or listed.
	transportErrors := func(m metrics) float64 {
		return m.sum("crdtd_gossip_transport_errors_total") - before[0].sum("crdtd_gossip_transport_errors_total")
	}
	testbin.WaitFor(t, 15*time.Second, "the alive packets to be refused or listed", func() bool {
		m, err := c.scrape(0)
		return err == nil && transportErrors(m) >= 2 || lists(c, 0, ghosts[0]) || lists(c, 0, ghosts[1])
	})
	after := scrapeAll()

	// A digest under an invented name is rejected by crdtd, so counted,
	// only if memberlist merged the push/pull and handed it over.
	if _, err := pushPullUntilAnswered(addr, hostileLabel, key, digestFrame("nobody", map[int]uint64{1: 1})); err != nil {
		t.Fatal(err)
	}
	rejected := func(m metrics) float64 { return m.sum("crdtd_antientropy_exchanges_total", "result=rejected") }
	testbin.WaitFor(t, 10*time.Second, "crdtd to take the digest pushed after the alive packets", func() bool {
		m, err := c.scrape(0)
		return err == nil && rejected(m) > rejected(after[0])
	})
	// And the nodes' own push/pulls go on, both ways.
	exchanges := func(m metrics) float64 { return m.sum("crdtd_antientropy_exchanges_total") - rejected(m) }
	for i := range after {
		waitMetric(t, c, i, "two more digest exchanges with the peer", func(m metrics) bool {
			return exchanges(m)-exchanges(after[i]) >= 2
		})
	}
	for i := range c.nodes {
		for _, g := range ghosts {
			if lists(c, i, g) {
				t.Errorf("%s lists the member %s", c.nodes[i].name, g)
			}
		}
	}
}
