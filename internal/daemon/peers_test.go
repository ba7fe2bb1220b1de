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
	require.True(t, a.isMemberReplica(b.replica), "the peer's replica is a member's")
	require.True(t, a.isMemberReplica(a.replica), "our own replica is a member's")
	require.False(t, a.isMemberReplica("invented"), "a replica no member names")
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

// TestCartAndLogMetrics: the cart gauges split carts with lines from
// empty ones, and the log's sync latency is a histogram whose buckets
// count cumulatively, up to the syncs within the largest bound.
func TestCartAndLogMetrics(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	for _, id := range []string{"m1", "m2", "m3"} {
		code, body := doRequest(t, d, "POST", "/v1/carts/"+id+"/items", `{"item":"apple","quantity":1}`, nil)
		require.Equal(t, 200, code, body)
	}
	code, body := doRequest(t, d, "DELETE", "/v1/carts/m3/items/apple", "", nil)
	require.Equal(t, 200, code, body)

	mf := scrapeMetrics(t, d)
	carts := map[string]float64{}
	for _, m := range mf["crdtd_carts"].GetMetric() {
		carts[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	require.Equal(t, map[string]float64{"with_items": 2, "empty": 1}, carts)

	h := mf["crdtd_store_log_sync_seconds"].GetMetric()[0].GetHistogram()
	require.Positive(t, h.GetSampleCount())
	var last uint64
	for _, b := range h.GetBucket() {
		require.GreaterOrEqual(t, b.GetCumulativeCount(), last, "buckets are cumulative")
		last = b.GetCumulativeCount()
	}
	require.Positive(t, last)
	require.LessOrEqual(t, last, h.GetSampleCount(), "no bucket counts more than every sync")
}
