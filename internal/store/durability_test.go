package store

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// The tests in this file pin the order on the log's write path that makes
// an acknowledgment mean "on disk": write the batch, fdatasync it, and only
// then answer Log. They replace the sync with a hook (Options.syncLog) that
// can hold it or fail it. They run in a synctest bubble: synctest.Wait
// returns once every goroutine of the store is blocked, so "Log has not
// returned" is checked at a moment when it would already have returned if
// it did not wait for the sync, with no sleep and no timing guess.

// TestLogWaitsForItsSync holds the sync of a record's batch and checks that
// the record was written before the sync began and that Log does not return
// until the sync has finished.
func TestLogWaitsForItsSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		var syncs atomic.Int32
		var sizeAtSync atomic.Int64
		opts := testOptions(t)
		opts.syncLog = func(f *os.File) error {
			syncs.Add(1)
			info, err := f.Stat()
			if err != nil {
				return err
			}
			sizeAtSync.Store(info.Size())
			<-hold
			return fdatasync(f)
		}
		s := newTestStore(t, t.TempDir(), opts)
		unhold := sync.OnceFunc(func() { close(hold) })
		t.Cleanup(unhold) // before Close, which waits for the held sync

		var returned atomic.Bool
		errc := make(chan error, 1)
		go func() {
			release, err := s.Log(t.Context(), Record{Key: "c/a", Delta: []byte("small")})
			returned.Store(true)
			if err == nil {
				release()
			}
			errc <- err
		}()
		synctest.Wait()
		must.Equal(t, int32(1), syncs.Load(), "syncs of a one-record batch (a 30-byte batch must be synced too)")
		must.False(t, returned.Load(), "Log returned while its batch's sync was still running")
		frame := appendFrame(nil, &Record{Key: "c/a", Delta: []byte("small")}, s.opts.now())
		must.Equal(t, int64(len(frame)), sizeAtSync.Load(), "segment size when the sync began (the record is written first)")

		unhold()
		must.NoError(t, <-errc)
		must.Equal(t, int32(1), syncs.Load(), "syncs after Log returned")
		must.Equal(t, uint64(1), s.Stats().Logged)
	})
}

// TestLogSyncFailureInstallsNothing makes the sync of a record's batch fail:
// Log must return the error, and nothing of the record may take effect,
// neither now (idempotency key, HLC, log size) nor after a restart (replay).
func TestLogSyncFailureInstallsNothing(t *testing.T) {
	dir := t.TempDir()
	broken := errors.New("injected sync failure")
	var failing atomic.Bool
	opts := testOptions(t)
	opts.syncLog = func(f *os.File) error {
		if failing.Load() {
			return broken
		}
		return fdatasync(f)
	}
	s, err := Open(dir, opts)
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("kept"), HLC: 5, IdempotencyKey: "k1", IdempotencyResult: []byte("r1")})
	bytesBefore := s.LogBytes()

	failing.Store(true)
	release, err := s.Log(t.Context(), Record{Key: "c/b", Delta: []byte("refused"), HLC: 99, IdempotencyKey: "k2", IdempotencyResult: []byte("r2")})
	must.Error(t, err, "Log of a record whose sync failed")
	must.True(t, release == nil, "a failed Log returned a release func")
	must.Contains(t, err.Error(), broken.Error())
	must.Contains(t, s.Err().Error(), broken.Error())

	_, ok, err := s.LookupIdempotency("k2")
	must.NoError(t, err)
	must.False(t, ok, "the failed record's idempotency key is visible")
	must.Equal(t, uint64(5), s.HLC(), "HLC after the failed record")
	must.Equal(t, bytesBefore, s.LogBytes(), "log bytes after the failed record")
	must.Equal(t, uint64(1), s.Stats().Logged, "records counted as logged")
	_, err = s.Log(t.Context(), Record{Key: "c/c", Delta: []byte("later")})
	must.Error(t, err, "Log after a failed sync")
	_ = s.Close()

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, []replayed{{"c/a", "kept"}}, replayAll(t, s), "replay after restart")
	_, ok, err = s.LookupIdempotency("k2")
	must.NoError(t, err)
	must.False(t, ok, "the failed record's idempotency key is visible after restart")
	_, ok, err = s.LookupIdempotency("k1")
	must.NoError(t, err)
	must.True(t, ok, "the acknowledged record's idempotency key is lost")
	must.Equal(t, uint64(5), s.HLC(), "HLC after restart")
}
