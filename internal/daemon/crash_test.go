package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
)

// copyDir copies a directory tree of regular files.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	require.NoError(t, err)
}

// TestCrashRestartReplaysTheLog: the data directory of a running node,
// copied after its writes were acknowledged and before any checkpoint, is
// what a crash leaves: the data file without those writes, and the log with
// them. A node started on it must replay the log and hold every
// acknowledged write. (Close checkpoints, so a test that stops the node
// cleanly never exercises replay.)
func TestCrashRestartReplaysTheLog(t *testing.T) {
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
	copyDir(t, d.cfg.DataDir, crashed)
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
