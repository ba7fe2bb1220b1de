package store

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The tests in this file pin the committer's batching rules at their
// boundaries. Those that involve CommitDelay run in a synctest bubble: its
// clock advances only when every goroutine is blocked, so "returned without
// waiting the delay" is an exact check (no time passed) rather than a race
// against a timer.

// TestCommitDelayEndsWhenBatchFull: the committer waits CommitDelay for a
// batch to fill, and not a moment longer once MaxBatch writes are queued.
func TestCommitDelayEndsWhenBatchFull(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBatch int
		writes   int
		wait     time.Duration // how long the writes take
	}{
		{"one write, batch of one", 1, 1, 0},
		{"two writes, batch of two", 2, 2, 0},
		{"one write, batch of three", 3, 1, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := testOptions(t)
				opts.NoSync = true
				opts.CommitDelay = time.Hour
				opts.MaxBatch = tc.maxBatch
				s := newTestStore(t, t.TempDir(), opts)
				start := time.Now()
				errc := make(chan error, tc.writes)
				for i := range tc.writes {
					go func() {
						errc <- s.Commit(context.Background(), Write{Objects: map[string][]byte{string(rune('a' + i)): {1}}})
					}()
					synctest.Wait() // each write queued, the committer waiting, in turn
				}
				for range tc.writes {
					must.NoError(t, <-errc)
				}
				must.Equal(t, tc.wait, time.Since(start), "time the writes took with CommitDelay 1h")
				must.Equal(t, uint64(1), s.Stats().Transactions, "transactions")
			})
		})
	}
}

// TestMaxBatchBoundsATransaction holds the first transaction while more
// writes queue than one batch takes: they go into transactions of at most
// MaxBatch writes.
func TestMaxBatchBoundsATransaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		var held atomic.Bool
		opts := testOptions(t)
		opts.NoSync = true
		opts.MaxBatch = 2
		opts.applyHook = func(w *Write) error {
			if _, ok := w.Objects["first"]; ok && held.CompareAndSwap(false, true) {
				<-hold
			}
			return nil
		}
		s := newTestStore(t, t.TempDir(), opts)
		errc := make(chan error, 4)
		commit := func(k string) { errc <- s.Commit(context.Background(), Write{Objects: map[string][]byte{k: {1}}}) }
		go commit("first")
		synctest.Wait()
		for _, k := range []string{"b", "c", "d"} {
			go commit(k)
		}
		synctest.Wait()
		close(hold)
		for range 4 {
			must.NoError(t, <-errc)
		}
		st := s.Stats()
		must.Equal(t, 2, st.LargestBatch, "largest batch with MaxBatch 2")
		must.Equal(t, uint64(3), st.Transactions, "transactions for 1 + 3 writes in batches of 2")
	})
}

// TestLoneFailingWrite: a batch whose only write fails answers it with its
// own error, and commits no transaction at all.
func TestLoneFailingWrite(t *testing.T) {
	bad := errors.New("bad write")
	opts := testOptions(t)
	opts.applyHook = func(w *Write) error {
		if _, ok := w.Objects["bad"]; ok {
			return bad
		}
		return nil
	}
	s := newTestStore(t, t.TempDir(), opts)
	err := s.Commit(t.Context(), Write{Objects: map[string][]byte{"bad": {1}}, HLC: 3})
	must.ErrorIs(t, err, bad)
	must.Equal(t, uint64(0), s.HLC())
	// The committer answers the failed write before it moves on; a good
	// write after it shows whether it committed anything in between.
	must.NoError(t, s.Commit(t.Context(), Write{Objects: map[string][]byte{"good": {1}}}))
	st := s.Stats()
	must.Equal(t, uint64(1), st.Transactions, "transactions after a lone failing write and a good one")
	must.Equal(t, uint64(1), st.Commits)
	must.Equal(t, uint64(1), st.Failed)
}

// TestEmptyWriteCommitsNothing, and a checkpoint that carries only logged
// idempotency keys (no objects, HLC 0) still commits them.
func TestEmptyWriteCommitsNothing(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	must.NoError(t, s.Commit(t.Context(), Write{}))
	must.Equal(t, uint64(0), s.Stats().Transactions, "transactions for an empty write")

	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d"), IdempotencyKey: "only-key", IdempotencyResult: []byte("r")})
	must.NoError(t, s.Checkpoint(t.Context(), func() map[string][]byte { return nil }))
	must.Equal(t, uint64(1), s.Stats().Transactions, "the checkpoint's transaction")
	must.NoError(t, s.Close())

	s = newTestStore(t, dir, testOptions(t))
	must.Len(t, replayAll(t, s), 0, "checkpointed record replayed")
	res, ok, err := s.LookupIdempotency("only-key")
	must.NoError(t, err)
	must.True(t, ok, "a checkpoint of idempotency keys alone lost them")
	must.Equal(t, "r", string(res))
}

// TestValueLimitsAtTheBoundary: values of exactly MaxValueLen pass
// validation; one byte more is refused. (validate is what Commit and Log
// call before queueing; calling it directly spares writing 16 MiB.)
func TestValueLimitsAtTheBoundary(t *testing.T) {
	limit := make([]byte, MaxValueLen)
	over := make([]byte, MaxValueLen+1)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"object of MaxValueLen bytes", (&Write{Objects: map[string][]byte{"k": limit}}).validate(), nil},
		{"object of MaxValueLen+1 bytes", (&Write{Objects: map[string][]byte{"k": over}}).validate(), ErrTooLarge},
		{"result of MaxValueLen bytes", (&Write{IdempotencyKey: "i", IdempotencyResult: limit}).validate(), nil},
		{"result of MaxValueLen+1 bytes", (&Write{IdempotencyKey: "i", IdempotencyResult: over}).validate(), ErrTooLarge},
		{"delta of MaxValueLen bytes", (&Record{Key: "k", Delta: limit}).validate(), nil},
		{"delta of MaxValueLen+1 bytes", (&Record{Key: "k", Delta: over}).validate(), ErrTooLarge},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got error %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

// TestOptionDefaults: each zero field takes its default, and a set field
// is kept.
func TestOptionDefaults(t *testing.T) {
	zero, err := Options{}.withDefaults()
	must.NoError(t, err)
	must.Equal(t, DefaultMaxBatch, zero.MaxBatch)
	must.Equal(t, time.Duration(DefaultLockTimeout), zero.LockTimeout)
	must.Equal(t, time.Duration(DefaultIdempotencyTTL), zero.IdempotencyTTL)
	must.Equal(t, DefaultMaxIdempotencyKeys, zero.MaxIdempotencyKeys)
	must.True(t, zero.Logger != nil && zero.now != nil && zero.syncLog != nil && zero.syncDir != nil, "nil logger, clock or sync after defaults")
	set := Options{MaxBatch: 3, LockTimeout: 5 * time.Millisecond, IdempotencyTTL: time.Minute, MaxIdempotencyKeys: 7}
	got, err := set.withDefaults()
	must.NoError(t, err)
	must.Equal(t, 3, got.MaxBatch)
	must.Equal(t, 5*time.Millisecond, got.LockTimeout)
	must.Equal(t, time.Minute, got.IdempotencyTTL)
	must.Equal(t, 7, got.MaxIdempotencyKeys)
}
