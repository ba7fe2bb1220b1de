package store

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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

// dirSyncs replaces the directory fsync with a hook that records, for each
// sync of dir, the store's files present in it at that moment, and fails
// the sync numbered failAt (1-based; 0 never).
type dirSyncs struct {
	mu     sync.Mutex
	calls  [][]string
	failAt int
}

var errDirSync = errors.New("injected directory sync failure")

func (d *dirSyncs) hook(tb testing.TB, dir string) func(string) error {
	return func(got string) error {
		must.Equal(tb, dir, got, "synced directory")
		entries, err := os.ReadDir(got)
		must.NoError(tb, err)
		var names []string
		for _, e := range entries {
			if _, ok := parseSegmentName(e.Name()); ok || e.Name() == FileName || e.Name() == spareName {
				names = append(names, e.Name())
			}
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.calls = append(d.calls, names)
		if len(d.calls) == d.failAt {
			return errDirSync
		}
		return syncDir(got)
	}
}

func (d *dirSyncs) taken() [][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

// TestDirectorySyncs: a new file's name is made durable by a sync of its
// directory before anything in it is acknowledged: the data file's before
// Open returns, each log segment's when it is started. Without the sync a
// crash could lose the whole file with the writes acknowledged in it. An
// existing data file needs no such sync, and NoSync skips them all.
func TestDirectorySyncs(t *testing.T) {
	dir := t.TempDir()
	syncs := &dirSyncs{}
	opts := testOptions(t)
	opts.syncDir = syncs.hook(t, dir)
	s, err := Open(dir, opts)
	must.NoError(t, err)
	must.Equal(t, [][]string{{FileName}, {segmentName(1), FileName}}, syncs.taken(), "syncs of a new store")
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d")})
	must.NoError(t, s.Checkpoint(t.Context(), func() map[string][]byte { return nil }))
	must.Equal(t, []string{segmentName(1), segmentName(2), FileName}, syncs.taken()[2], "sync of the segment a checkpoint started")
	must.Equal(t, []string{segmentName(2), spareName, FileName}, syncs.taken()[3], "sync of the checkpointed segment kept as the spare")
	must.Len(t, syncs.taken(), 4)
	must.NoError(t, s.Close())

	syncs = &dirSyncs{}
	opts.syncDir = syncs.hook(t, dir)
	s = newTestStore(t, dir, opts)
	must.Equal(t, [][]string{{segmentName(3), FileName}}, syncs.taken(), "syncs when opening an existing store")
	must.NoError(t, s.Close())

	syncs = &dirSyncs{}
	opts.NoSync = true
	opts.syncDir = syncs.hook(t, dir)
	newTestStore(t, t.TempDir(), opts)
	must.Len(t, syncs.taken(), 0, "syncs with NoSync")
}

// TestDirectorySyncFailure: a directory sync that fails fails the Open or
// the checkpoint that needed it, and leaves nothing that stops the next
// attempt: no lock held, no half-made segment.
func TestDirectorySyncFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failAt int
		want   string
	}{
		{"new data file", 1, "open store: sync"},
		{"first segment", 2, "create log segment: sync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions(t)
			opts.syncDir = (&dirSyncs{failAt: tc.failAt}).hook(t, dir)
			_, err := Open(dir, opts)
			must.Error(t, err)
			must.Contains(t, err.Error(), tc.want)
			must.Contains(t, err.Error(), errDirSync.Error())
			must.Len(t, segmentFiles(t, dir), 0, "segment left behind")
			s := newTestStore(t, dir, testOptions(t))
			must.Len(t, replayAll(t, s), 0)
		})
	}
	t.Run("checkpoint", func(t *testing.T) {
		dir := t.TempDir()
		opts := testOptions(t)
		opts.syncDir = (&dirSyncs{failAt: 3}).hook(t, dir)
		s := newTestStore(t, dir, opts)
		logRecord(t, s, Record{Key: "c/a", Delta: []byte("d")})
		none := func() map[string][]byte { return nil }
		err := s.Checkpoint(t.Context(), none)
		must.Error(t, err)
		must.Contains(t, err.Error(), errDirSync.Error())
		must.Equal(t, []string{filepath.Join(dir, segmentName(1))}, segmentFiles(t, dir))
		must.True(t, s.LogBytes() > 0, "the record's segment was dropped")
		must.NoError(t, s.Checkpoint(t.Context(), none))
		must.Equal(t, int64(0), s.LogBytes())
	})
}

// TestTornTailCutIsSynced: the cut of a torn tail is synced before Open
// returns; otherwise a crash could bring the torn bytes back behind the
// new segment, where they would read as damage. A failed sync fails Open.
func TestTornTailCutIsSynced(t *testing.T) {
	tear := func(t *testing.T) (dir string, kept int64) {
		dir = t.TempDir()
		s, err := Open(dir, testOptions(t))
		must.NoError(t, err)
		logRecord(t, s, Record{Key: "c/a", Delta: []byte("kept")})
		must.NoError(t, s.Close())
		seg, data := onlySegment(t, dir)
		must.NoError(t, os.WriteFile(seg, append(data, 0, 0, 7), 0o600))
		return dir, int64(len(data))
	}
	type synced struct {
		name string
		size int64
	}
	record := func(calls *[]synced, fail error) func(*os.File) error {
		return func(f *os.File) error {
			info, err := f.Stat()
			must.NoError(t, err)
			*calls = append(*calls, synced{filepath.Base(f.Name()), info.Size()})
			return fail
		}
	}

	dir, kept := tear(t)
	var calls []synced
	opts := testOptions(t)
	opts.syncLog = record(&calls, nil)
	newTestStore(t, dir, opts)
	must.Equal(t, []synced{{segmentName(1), kept}}, calls)

	dir, _ = tear(t)
	calls = nil
	opts.syncLog = record(&calls, errDirSync)
	_, err := Open(dir, opts)
	must.Error(t, err)
	must.Contains(t, err.Error(), "cut torn log segment")
	must.Len(t, calls, 1)

	dir, _ = tear(t)
	calls = nil
	opts.syncLog = record(&calls, nil)
	opts.NoSync = true
	newTestStore(t, dir, opts)
	must.Len(t, calls, 0, "syncs with NoSync")
}

// TestFailedBatchIsCutAndSynced: after a batch's sync fails, the segment is
// cut back to the records acknowledged before it (all of them, over several
// batches) and the cut is synced, so that a restart replays exactly those.
func TestFailedBatchIsCutAndSynced(t *testing.T) {
	dir := t.TempDir()
	broken := errors.New("injected sync failure")
	var mu sync.Mutex
	var sizes []int64 // the segment's size at each sync
	opts := testOptions(t)
	opts.syncLog = func(f *os.File) error {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		mu.Lock()
		sizes = append(sizes, info.Size())
		n := len(sizes)
		mu.Unlock()
		if n == 3 { // the third batch's sync
			return broken
		}
		return fdatasync(f)
	}
	logs := &logRecorder{}
	opts.Logger = slog.New(logs)
	s, err := Open(dir, opts)
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("one")})
	logRecord(t, s, Record{Key: "c/b", Delta: []byte("two")})
	_, err = s.Log(t.Context(), Record{Key: "c/c", Delta: []byte("refused")})
	must.ErrorIs(t, err, ErrLogFailed)
	mu.Lock()
	got := slices.Clone(sizes)
	mu.Unlock()
	must.Len(t, got, 4, "syncs: two batches, the failed one, the cut")
	must.True(t, got[0] < got[1] && got[1] < got[2], "sizes at the batches' syncs: %v", got)
	must.Equal(t, got[1], got[3], "size at the cut's sync: %v", got)
	for _, r := range logs.all() {
		must.True(t, r.Level < slog.LevelError || r.Message == "write-ahead log failed; the node must be restarted",
			"logged %s %q", r.Level, r.Message)
	}
	_ = s.Close()

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, []replayed{{"c/a", "one"}, {"c/b", "two"}}, replayAll(t, s))
}

// TestCheckpointWaitsForEveryRelease: a checkpoint covering a segment
// waits until each of its records is released, not just one of them.
func TestCheckpointWaitsForEveryRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := testOptions(t)
		opts.NoSync = true
		s, err := Open(t.TempDir(), opts)
		must.NoError(t, err)
		defer s.Close()
		var releases []func()
		for _, k := range []string{"c/a", "c/b"} { // two batches
			release, err := s.Log(t.Context(), Record{Key: k, Delta: []byte("d")})
			must.NoError(t, err)
			releases = append(releases, release)
		}
		var snapshotted atomic.Bool
		done := make(chan error, 1)
		go func() {
			done <- s.Checkpoint(context.Background(), func() map[string][]byte {
				snapshotted.Store(true)
				return nil
			})
		}()
		synctest.Wait()
		must.False(t, snapshotted.Load(), "snapshot with no record released")
		releases[0]()
		synctest.Wait()
		must.False(t, snapshotted.Load(), "snapshot with one of two records released")
		releases[1]()
		must.NoError(t, <-done)
		must.True(t, snapshotted.Load())
	})
}
