package daemon

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/internal/testbin"
)

// TestAlivePeersAndStatus: a node alone has no alive peer; once a second
// node joins, both do, and /v1/status counts two alive members and lists
// the other as a peer.
func TestAlivePeersAndStatus(t *testing.T) {
	t.Parallel()
	label := fmt.Sprintf("peers-%d", time.Now().UnixNano())
	a := newTestNode(t, func(c *Config) { c.ClusterLabel = label })
	require.False(t, a.hasAlivePeer(), "a node alone")
	b := newTestNode(t, func(c *Config) { c.ClusterLabel, c.Join = label, []string{a.GossipAddr()} })
	testbin.WaitFor(t, 10*time.Second, "both nodes to see the other alive", func() bool {
		return a.hasAlivePeer() && b.hasAlivePeer()
	})
	st, err := newTestClient(t, a, "").Status(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, st.Members.Alive)
	require.Zero(t, st.Members.Suspect+st.Members.Dead+st.Members.Left)
	require.Len(t, st.Peers, 1)
	require.Equal(t, b.cfg.Name, st.Peers[0].Name)
	require.Equal(t, "alive", st.Peers[0].State)

	// Two nodes with nothing to repair: their digest exchanges are in
	// sync, and the metric of diverged ones (exchanges less those in sync)
	// stays at the join's few.
	exchanges := func(result string) float64 {
		for _, m := range scrapeMetrics(t, a)["crdtd_antientropy_exchanges_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	testbin.WaitFor(t, 20*time.Second, "five digest exchanges in sync", func() bool { return exchanges("in_sync") >= 5 })
	require.Less(t, exchanges("diverged"), exchanges("in_sync"), "nodes in sync counted as diverged")
}

// TestBeatInterval: before its first beat a node reports the configured
// heartbeat interval, then the one its heartbeat loop chose.
func TestBeatInterval(t *testing.T) {
	t.Parallel()
	d := &Daemon{}
	d.cfg.HeartbeatInterval = time.Second
	require.Equal(t, time.Second, d.beatInterval())
	d.beatEvery.Store(int64(3 * time.Second))
	require.Equal(t, 3*time.Second, d.beatInterval())
}

// TestHostName: the host's name when it has one; "crdtd" only without.
func TestHostName(t *testing.T) {
	t.Parallel()
	h, err := os.Hostname()
	if err != nil || h == "" {
		require.Equal(t, "crdtd", hostName())
		return
	}
	require.Equal(t, h, hostName())
}
