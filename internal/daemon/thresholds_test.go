package daemon

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/internal/store"
)

// TestCheckpointAtExactlyTheLogBound: a log holding exactly
// CheckpointLogBytes wakes the persister; one byte less does not.
func TestCheckpointAtExactlyTheLogBound(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir(), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	release, err := st.Log(context.Background(), store.Record{Key: cartKey("alice"), Delta: []byte{1, 2, 3}, HLC: 1})
	require.NoError(t, err)
	release()
	logged := st.LogBytes()
	require.Positive(t, logged)

	for _, tc := range []struct {
		bound int64
		kick  bool
	}{{logged + 1, false}, {logged, true}, {logged - 1, true}} {
		d := &Daemon{store: st, persistKick: make(chan struct{}, 1)}
		d.cfg.CheckpointLogBytes = tc.bound
		d.checkpointIfLogFull()
		require.Equal(t, tc.kick, len(d.persistKick) == 1, "log of %d bytes, bound %d", logged, tc.bound)
	}
}

// TestIdemRecordKeepsAnswersUpToTheBound: an answer of maxKeptAnswer bytes
// is kept whole with its key; one byte more is left out.
func TestIdemRecordKeepsAnswersUpToTheBound(t *testing.T) {
	t.Parallel()
	fp := requestFingerprint("POST", "/v1/carts/alice/items", []byte(`{"item":"apple","qty":1}`))
	for _, n := range []int{maxKeptAnswer, maxKeptAnswer + 1} {
		answer := bytes.Repeat([]byte{'x'}, n)
		got, err := matchIdemRecord(encodeIdemRecord(fp, answer), fp)
		require.NoError(t, err)
		if n <= maxKeptAnswer {
			require.Equal(t, answer, got, "an answer of %d bytes is kept", n)
		} else {
			require.Nil(t, got, "an answer of %d bytes is left out", n)
		}
	}
}

// TestCheckpointAfterPersistDropsTheLog: carts already persisted (merges
// from peers are, and take locally written carts along) leave nothing
// dirty, yet the log still holds their changes: a checkpoint must still
// run and drop the log, or it grows until the next write.
func TestCheckpointAfterPersistDropsTheLog(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.CheckpointInterval, c.CheckpointLogBytes = 1<<40, 1<<40 })
	code, body := doRequest(t, d, "POST", "/v1/carts/persisted/items", `{"item":"apple","quantity":1}`, nil)
	require.Equal(t, 200, code, body)
	d.persistDirty()
	require.False(t, d.carts.hasDirty())
	require.Positive(t, d.store.LogBytes())
	require.NoError(t, d.checkpoint())
	require.Zero(t, d.store.LogBytes(), "the checkpoint dropped the log")
}
