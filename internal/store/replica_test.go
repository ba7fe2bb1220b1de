package store

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestResetReplicaID checks that a reset gives a new ID and keeps everything
// else: objects, idempotency keys, the HLC mark and the records of the log.
func TestResetReplicaID(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	before := s.ReplicaID()
	must.NoError(t, s.Commit(t.Context(), Write{
		Objects:        map[string][]byte{"alice": []byte("state")},
		IdempotencyKey: "k1", IdempotencyResult: []byte("r1"), HLC: 42,
	}))
	release, err := s.Log(t.Context(), Record{Key: "bob", Delta: []byte("delta"), HLC: 43})
	must.NoError(t, err)
	release()
	// Close without a checkpoint: the record stays in the log, as after a crash.
	must.NoError(t, s.Close())

	oldID, newID, err := ResetReplicaID(dir, testOptions(t))
	must.NoError(t, err)
	must.Equal(t, before, oldID, "old ID")
	must.NotEqual(t, before, newID, "the reset kept the replica ID")
	must.Regexp(t, regexp.MustCompile(`^r-[0-9a-f]{16}$`), newID)

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, newID, s.ReplicaID(), "replica ID after reopen")
	v, ok, err := s.Get("alice")
	must.NoError(t, err)
	must.True(t, ok && string(v) == "state", "object alice after the reset: %q, %v", v, ok)
	res, ok, err := s.LookupIdempotency("k1")
	must.NoError(t, err)
	must.True(t, ok && string(res) == "r1", "idempotency key after the reset: %q, %v", res, ok)
	must.Equal(t, uint64(43), s.HLC(), "HLC high-water mark")
	var replayed []string
	must.NoError(t, s.Replay(func(key string, delta []byte) error {
		replayed = append(replayed, key+"="+string(delta))
		return nil
	}))
	must.Equal(t, []string{"bob=delta"}, replayed, "log records after the reset")
}

func TestResetReplicaIDRefuses(t *testing.T) {
	t.Run("running node", func(t *testing.T) {
		dir := t.TempDir()
		newTestStore(t, dir, testOptions(t))
		_, _, err := ResetReplicaID(dir, testOptions(t))
		must.ErrorIs(t, err, ErrLocked)
	})
	t.Run("no data file", func(t *testing.T) {
		dir := t.TempDir()
		_, _, err := ResetReplicaID(dir, testOptions(t))
		must.ErrorIs(t, err, fs.ErrNotExist)
		entries, rerr := os.ReadDir(dir)
		must.NoError(t, rerr)
		must.Len(t, entries, 0, "the reset created files in an empty directory")
	})
	t.Run("not a store", func(t *testing.T) {
		dir := t.TempDir()
		db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
		must.NoError(t, err)
		must.NoError(t, db.Close())
		_, _, err = ResetReplicaID(dir, testOptions(t))
		var ce *CorruptError
		must.ErrorAs(t, err, &ce)
		must.Contains(t, err.Error(), "not a crdtd data file")
	})
	t.Run("unknown format", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir, testOptions(t))
		must.NoError(t, err)
		id := s.ReplicaID()
		must.NoError(t, s.Close())
		db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
		must.NoError(t, err)
		must.NoError(t, db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, u64(99)) }))
		must.NoError(t, db.Close())
		_, _, err = ResetReplicaID(dir, testOptions(t))
		must.ErrorIs(t, err, ErrFormatVersion)
		db, err = bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
		must.NoError(t, err)
		must.NoError(t, db.View(func(tx *bolt.Tx) error {
			must.Equal(t, id, string(tx.Bucket(bucketMeta).Get(keyReplicaID)), "replica ID in a refused file")
			return nil
		}))
		must.NoError(t, db.Close())
	})
}
