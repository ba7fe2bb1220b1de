package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer safe for the node's goroutines to log to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCleanLifeLogsNoError: a node that starts (recovering a log that
// holds changes), serves a write, stops and starts again logs no error and
// no warning: an operator's alerts on those levels stay quiet.
func TestCleanLifeLogsNoError(t *testing.T) {
	t.Parallel()
	var logged lockedBuffer
	cfg := testConfig(t, "clean-life")
	cfg.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.CheckpointInterval, cfg.CheckpointLogBytes = 1<<40, 1<<40 // the restart replays the write
	require.NoError(t, os.Chmod(cfg.DataDir, 0o700))              // as an operator would: no warning
	for range 2 {
		d, err := Start(context.Background(), cfg)
		require.NoError(t, err)
		code, body := doRequest(t, d, "POST", "/v1/carts/quiet/items", `{"item":"apple","quantity":1}`, nil)
		require.Equal(t, 200, code, body)
		require.NoError(t, d.Close())
	}
	require.Empty(t, logged.String())
}
