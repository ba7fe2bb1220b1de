package daemon

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/testbin"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestFullDiskRefusesWritesWith503: once the write-ahead log cannot be
// appended to (here: a full 2 MiB tmpfs), writes answer 503, not 500, and
// /healthz, which answers without a token, says to restart without naming
// files. Needs root to mount the tmpfs.
func TestFullDiskRefusesWritesWith503(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	d := newTestNode(t, func(c *Config) {
		c.DataDir = dir + "/data"
		c.CheckpointInterval = 1 << 40 // keep everything in the log
		c.CheckpointLogBytes = 1 << 40
	})
	pad := strings.Repeat("x", 100)
	var code int
	var body string
	for i := range 100_000 {
		code, body = doRequest(t, d, "POST", fmt.Sprintf("/v1/carts/c%d/items", i%100),
			fmt.Sprintf(`{"item":"i%d-%s","quantity":1}`, i, pad[:100-len(fmt.Sprint(i))]), nil)
		if code != 200 {
			break
		}
	}
	require.Equal(t, 503, code, "a write on a full disk: %s", body)
	require.Contains(t, body, "restart")
	code, body = doRequest(t, d, "GET", "/healthz", "", nil)
	require.Equal(t, 503, code)
	require.NotContains(t, body, dir, "the open /healthz names the data directory")
}

// TestFailedLogNeverReachesPeers: a write whose log append fails (a full
// disk) is refused, and its change never leaves the node: a node must not
// send a change before it is durable, or a crash would let it hand the same
// dot to another change. Needs root to mount a small tmpfs.
func TestFailedLogNeverReachesPeers(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	label := fmt.Sprintf("fulldisk-%d", time.Now().UnixNano())
	cfgB := testConfig(t, label)
	b, err := Start(context.Background(), cfgB)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	cfgA := testConfig(t, label)
	cfgA.DataDir = dir + "/data"
	cfgA.CheckpointInterval, cfgA.CheckpointLogBytes = 1<<40, 1<<40
	cfgA.Join = []string{b.GossipAddr()}
	a, err := Start(context.Background(), cfgA)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	testbin.WaitFor(t, 10*time.Second, "a to join b", func() bool { return a.joined.Load() })

	pad := strings.Repeat("x", 90)
	type write struct{ cart, item string }
	var lastOK, failed write
	for i := range 100_000 {
		w := write{fmt.Sprintf("c%d", i%100), fmt.Sprintf("i%d-%s", i, pad)}
		code, body := doRequest(t, a, "POST", "/v1/carts/"+w.cart+"/items", fmt.Sprintf(`{"item":%q,"quantity":1}`, w.item), nil)
		if code != 200 {
			require.Equal(t, 503, code, "%s", body)
			failed = w
			break
		}
		lastOK = w
	}
	require.NotEmpty(t, failed.item, "the disk never filled")
	testbin.WaitFor(t, 20*time.Second, "b to hold a's last acknowledged write", func() bool {
		return quantity(t, cartViewOf(t, b, lastOK.cart), lastOK.item) == 1
	})
	require.Zero(t, quantity(t, cartViewOf(t, b, failed.cart), failed.item), "a refused write reached a peer")
	require.Zero(t, quantity(t, cartViewOf(t, a, failed.cart), failed.item), "a refused write is visible on its node")
}
