package gossip

import (
	"slices"
	"testing"
	"time"
)

// TestReconnectTargets: a node re-joins the seeds that are not alive
// members and the peers gone for less than ReconnectTimeout, each address
// once, never itself; peers gone for longer are forgotten.
func TestReconnectTargets(t *testing.T) {
	t.Parallel()
	n := &Node{
		self:  Member{Name: "self", Addr: "127.0.0.1:7000"},
		seeds: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7002", ""},
		known: map[string]*knownPeer{
			"alive":    {Member: Member{Name: "alive", Addr: "127.0.0.1:7001"}},
			"recent":   {Member: Member{Name: "recent", Addr: "127.0.0.1:7003"}, goneAt: time.Now().Add(-time.Minute)},
			"long-ago": {Member: Member{Name: "long-ago", Addr: "127.0.0.1:7004"}, goneAt: time.Now().Add(-2 * time.Hour)},
		},
	}
	n.cfg.ReconnectTimeout = time.Hour
	got := n.reconnectTargets()
	slices.Sort(got)
	if want := []string{"127.0.0.1:7002", "127.0.0.1:7003"}; !slices.Equal(got, want) {
		t.Fatalf("targets %q, want %q (a seed that is not a member, a peer gone a minute)", got, want)
	}
	if _, ok := n.known["long-ago"]; ok {
		t.Error("a peer gone past ReconnectTimeout is still known")
	}
	if _, ok := n.known["recent"]; !ok {
		t.Error("a peer gone a minute was forgotten")
	}
}

// TestNoReconnectWhileLeaving: a node that is leaving tries no seed; one
// that is not does.
func TestNoReconnectWhileLeaving(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, nil)
	n := c.start(0, newSetDelegate(), 0)
	n.pmu.Lock()
	n.seeds = []string{"127.0.0.1:1"} // nothing listens there
	n.pmu.Unlock()
	n.leaving.Store(true)
	n.reconnect()
	if got := n.Stats().ReconnectAttempts; got != 0 {
		t.Fatalf("a leaving node made %d reconnect attempts, want 0", got)
	}
	n.leaving.Store(false)
	n.reconnect()
	if got := n.Stats().ReconnectAttempts; got != 1 {
		t.Fatalf("a running node made %d reconnect attempts, want 1", got)
	}
}
