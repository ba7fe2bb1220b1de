package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// ResetReplicaID gives the data file in dir a fresh replica ID and returns
// the old and the new one. Everything else stays: the objects, the
// idempotency keys, the clock's high-water mark and the write-ahead log.
//
// A data directory restored from a backup needs this before the node runs
// again. The node took its backup at some point and went on issuing dots
// (replica, sequence number) after it; peers hold those. The restored
// objects remember only the dots up to the backup, so the node would issue
// the later sequence numbers a second time, for other changes, and every
// peer would drop those changes as already seen. Under a replica ID nobody
// has seen, every dot is new. The old ID's dots in the restored objects are
// genuine history and merge with the peers' copies as usual.
//
// ResetReplicaID rewrites only the replica ID in the existing data file, in
// place: it creates no file (the directory may belong to another user, as
// with a service manager's dynamic user) and fails if dir holds no data
// file. It takes the data file's lock, so it fails with an error wrapping
// [ErrLocked] while a node runs on dir; a file that cannot be read as a
// store gives a [*CorruptError]. opts supplies LockTimeout, NoSync and
// SkipCheck; the rest is unused.
func ResetReplicaID(dir string, opts Options) (oldID, newID string, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return "", "", fmt.Errorf("reset replica ID: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return "", "", fmt.Errorf("reset replica ID: %w", err)
	}
	db, err := openBolt(path, opts)
	if err != nil {
		return "", "", fmt.Errorf("reset replica ID: %w", err)
	}
	if newID, err = newReplicaID(); err != nil {
		_ = db.Close()
		return "", "", err
	}
	err = guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				return fmt.Errorf("no %q bucket: not a crdtd data file", bucketMeta)
			}
			// Refuse a layout this build does not know rather than write
			// into it; the formats it knows keep the ID in the same place.
			v := meta.Get(keyFormat)
			if len(v) != 8 {
				return fmt.Errorf("format version missing or malformed")
			}
			if got := binary.BigEndian.Uint64(v); got < 1 || got > formatVersion {
				return &versionError{got: got}
			}
			id := meta.Get(keyReplicaID)
			if len(id) == 0 {
				return fmt.Errorf("replica ID missing")
			}
			oldID = string(id)
			return meta.Put(keyReplicaID, []byte(newID))
		})
	})
	if cerr := db.Close(); err == nil && cerr != nil {
		return "", "", fmt.Errorf("reset replica ID: close %s: %v", path, cerr)
	}
	var ve *versionError
	switch {
	case err == nil:
		return oldID, newID, nil
	case errors.As(err, &ve):
		return "", "", fmt.Errorf("reset replica ID of %s: %w %d (this build reads version %d)", path, ErrFormatVersion, ve.got, formatVersion)
	default:
		return "", "", &CorruptError{Path: path, Err: err}
	}
}
