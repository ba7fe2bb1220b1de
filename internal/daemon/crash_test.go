package daemon

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/internal/testbin"
)

// TestCrashRestartReplaysTheLog: the data directory of a running node,
// copied after its writes were acknowledged and before any checkpoint, is
// what a crash leaves: the data file without those writes, and the log with
// them. A node started on it must replay the log and hold every
// acknowledged write. (Close checkpoints, so a test that stops the node
// cleanly never exercises replay.)
func TestCrashRestartReplaysTheLog(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) {
		c.CheckpointInterval = 1 << 40 // no checkpoint while the test runs
		c.CheckpointLogBytes = 1 << 40
	})
	c := newTestClient(t, d, "")
	for i := range 40 {
		_, err := c.AddItem(t.Context(), fmt.Sprintf("cart-%d", i%4), api.AddItemRequest{Item: fmt.Sprintf("item-%d", i), Quantity: int64(1 + i%3)})
		require.NoError(t, err)
	}
	_, err := c.RemoveItem(t.Context(), "cart-0", "item-0")
	require.NoError(t, err)
	require.Positive(t, d.store.LogBytes(), "the writes are not in the log")

	crashed := t.TempDir()
	testbin.CopyTree(t, d.cfg.DataDir, crashed)
	want := map[string]api.CartView{}
	for i := range 4 {
		want[fmt.Sprintf("cart-%d", i)] = cartViewOf(t, d, fmt.Sprintf("cart-%d", i))
	}

	cfg := testConfig(t, "crash-"+d.cfg.ClusterLabel)
	cfg.DataDir = crashed
	r, err := Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	require.Equal(t, d.ReplicaID(), r.ReplicaID(), "the restarted node lost its replica ID")
	for id, v := range want {
		require.Equal(t, v, cartViewOf(t, r, id), "cart %s after a crash restart", id)
	}
	// Its next write gets a dot past every one it issued before the crash.
	rc := newTestClient(t, r, "")
	v, err := rc.AddItem(t.Context(), "cart-1", api.AddItemRequest{Item: "after-crash", Quantity: 1})
	require.NoError(t, err)
	require.Len(t, v.Items, len(want["cart-1"].Items)+1, "a write after the restart replaced an earlier one")
}
