package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckpointRecyclesASegment: a checkpoint keeps the segment it covered
// as the spare, zeroed over its records and synced; the next segment starts
// from it, so records are written over its zeros rather than appended; and
// a restart replays the new records only, none of the old ones the spare
// held. The rename is synced before the zeroing, or a crash could bring the
// segment back half zeroed.
func TestCheckpointRecyclesASegment(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t)
	var atRename []byte // the spare as the directory sync after its rename finds it
	opts.syncDir = func(d string) error {
		if b, err := os.ReadFile(filepath.Join(d, spareName)); err == nil && atRename == nil {
			atRename = b
		}
		return syncDir(d)
	}
	s := newTestStore(t, dir, opts)
	for range 20 {
		logRecord(t, s, Record{Key: "c/old", Delta: bytes.Repeat([]byte("o"), 100)})
	}
	_, first := onlySegment(t, dir)
	must.NoError(t, s.Checkpoint(t.Context(), func() map[string][]byte { return nil }))

	spare, err := os.ReadFile(filepath.Join(dir, spareName))
	must.NoError(t, err, "the checkpointed segment is kept as the spare")
	must.Equal(t, len(first), len(spare), "the spare keeps the segment's size")
	must.True(t, allZero(spare), "the spare is zeroed over its records")
	must.True(t, bytes.Equal(first, atRename), "the rename is made durable before the records are zeroed")

	logRecord(t, s, Record{Key: "c/b", Delta: []byte("new")}) // in segment 2, made before the spare
	_, err = s.wal.rotate()
	must.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, spareName))
	must.ErrorIs(t, err, os.ErrNotExist, "segment 3 took the spare")
	logRecord(t, s, Record{Key: "c/c", Delta: []byte("newest")})
	must.NoError(t, s.Close())

	third, err := os.ReadFile(filepath.Join(dir, segmentName(3)))
	must.NoError(t, err)
	must.Equal(t, len(first), len(third), "segment 3 is the spare, written over")
	rec, n, err := readFrame(third)
	must.NoError(t, err)
	must.Equal(t, "c/c", rec.Key, "the record is written at the start of the reused file")
	must.True(t, allZero(third[n:]), "zeros after the record")

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, []replayed{{"c/b", "new"}, {"c/c", "newest"}}, replayAll(t, s))
}

// TestOpenDeletesTheSpare: a spare left by the last run may have been half
// zeroed when the node stopped; Open deletes it unread.
func TestOpenDeletesTheSpare(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, testOptions(t))
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("kept")})
	must.NoError(t, s.Close())
	garbage := appendFrame(nil, &Record{Key: "c/ghost", Delta: []byte("never logged")}, s.opts.now())
	must.NoError(t, os.WriteFile(filepath.Join(dir, spareName), garbage, 0o600))

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, []replayed{{"c/a", "kept"}}, replayAll(t, s))
	_, err := os.Stat(filepath.Join(dir, spareName))
	must.ErrorIs(t, err, os.ErrNotExist)
}

// TestZeroedSpaceAfterRecords: zeros after a segment's last record are the
// room a reused segment had left, not damage: an older segment ending in
// them is not corrupt, and a segment holding nothing else is empty, deleted
// at Open, so that the segment before it is the newest written, where a
// torn record is cut off rather than taken for corruption.
func TestZeroedSpaceAfterRecords(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, testOptions(t))
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("one")})
	must.NoError(t, s.Close())
	s = newTestStore(t, dir, testOptions(t))
	logRecord(t, s, Record{Key: "c/b", Delta: []byte("two")})
	must.NoError(t, s.Close())

	segs := segmentFiles(t, dir)
	must.Len(t, segs, 2)
	room := make([]byte, 4096)
	// The older segment ends in zeros; the newer one in a torn record
	// and zeros; after it, a reused segment nothing was written to.
	older, err := os.ReadFile(segs[0])
	must.NoError(t, err)
	must.NoError(t, os.WriteFile(segs[0], append(older, room...), 0o600))
	newer, err := os.ReadFile(segs[1])
	must.NoError(t, err)
	must.NoError(t, os.WriteFile(segs[1], append(append(newer, 0, 0, 1), room...), 0o600))
	unused := filepath.Join(dir, segmentName(9))
	must.NoError(t, os.WriteFile(unused, room, 0o600))

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, []replayed{{"c/a", "one"}, {"c/b", "two"}}, replayAll(t, s))
	_, err = os.Stat(unused)
	must.ErrorIs(t, err, os.ErrNotExist, "the unused segment is deleted")
	cut, err := os.ReadFile(segs[1])
	must.NoError(t, err)
	must.Equal(t, newer, cut, "the torn record and the zeros after it are cut off")
}
