package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/testbin"

	"github.com/stretchr/testify/require"
)

// TestCleanLifeLogsNoError: a node that starts (recovering a log that
// holds changes), serves writes, checkpoints (on its timer, or because the
// log is full), persists carts merged from a peer and stops logs no error
// and no warning: an operator's alerts on those levels stay quiet.
func TestCleanLifeLogsNoError(t *testing.T) {
	t.Parallel()
	var logged testbin.SyncBuffer
	quiet := func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
		require.NoError(t, os.Chmod(cfg.DataDir, 0o700)) // as an operator would: no warning
	}
	write := func(d *Daemon, id string) {
		code, body := doRequest(t, d, "POST", "/v1/carts/"+id+"/items", `{"item":"apple","quantity":1}`, nil)
		require.Equal(t, 200, code, body)
	}

	cfg := testConfig(t, "clean-life")
	quiet(&cfg)
	cfg.CheckpointInterval, cfg.CheckpointLogBytes = 1<<40, 1<<40 // the restart replays the write
	for range 2 {
		d, err := Start(context.Background(), cfg)
		require.NoError(t, err)
		write(d, "quiet")
		require.NoError(t, d.Close())
	}

	for _, tune := range []func(*Config){
		func(c *Config) { c.CheckpointInterval = 10 * time.Millisecond },
		func(c *Config) { c.CheckpointLogBytes = 1 },
	} {
		d := newTestNode(t, func(c *Config) { quiet(c); tune(c) })
		write(d, "checkpointed")
		require.Eventually(t, func() bool { return d.store.LogBytes() == 0 }, 10*time.Second, 5*time.Millisecond,
			"the persister checkpoints the log")
		require.NoError(t, d.Close())
	}

	label := fmt.Sprintf("clean-life-%d", time.Now().UnixNano())
	a := newTestNode(t, func(c *Config) { c.ClusterLabel = label })
	b := newTestNode(t, func(c *Config) { quiet(c); c.ClusterLabel, c.Join = label, []string{a.GossipAddr()} })
	write(a, "merged")
	require.Eventually(t, func() bool {
		return b.store.Counts().Entries > 0 && !b.carts.hasDirty()
	}, 10*time.Second, 5*time.Millisecond, "the peer persists the merged cart")
	require.NoError(t, b.Close())

	require.Empty(t, logged.String())
}
