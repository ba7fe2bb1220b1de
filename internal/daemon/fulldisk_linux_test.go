package daemon

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestFullDiskRefusesWritesWith503: once the write-ahead log cannot be
// appended to (here: a full 2 MiB tmpfs), writes answer 503, not 500, and
// /healthz, which answers without a token, says to restart without naming
// files. Needs root to mount the tmpfs.
func TestFullDiskRefusesWritesWith503(t *testing.T) {
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
