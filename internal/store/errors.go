package store

import (
	"errors"
	"fmt"
)

var (
	// ErrLocked is returned by [Open] when another process holds the data
	// file's lock for longer than [Options.LockTimeout].
	ErrLocked = errors.New("data directory in use by another process")

	// ErrClosed is returned by methods called after [Store.Close].
	ErrClosed = errors.New("store closed")

	// ErrInvalidKey is returned for an empty object or idempotency key, or
	// one longer than [MaxKeyLen] bytes.
	ErrInvalidKey = errors.New("invalid key")

	// ErrTooLarge is returned for an object value or idempotency result
	// longer than [MaxValueLen] bytes.
	ErrTooLarge = errors.New("value too large")

	// ErrFormatVersion is returned by [Open] when the data file was written
	// by a build with a different, unknown storage format.
	ErrFormatVersion = errors.New("unsupported data format version")

	// ErrLogFailed is wrapped by every error of [Store.Log] and [Store.Err]
	// once an append to the write-ahead log has failed (a full or broken
	// disk). The failure is sticky: nothing more is logged until the node
	// restarts, and what was acknowledged before stays durable.
	ErrLogFailed = errors.New("write-ahead log failed")
)

// CorruptError reports a data file that exists but cannot be read as a
// crdtd store: bad bbolt pages, a truncated file, missing metadata, or a
// damaged record in the write-ahead log before its end.
//
// The fix is operational, not programmatic: move the data directory aside
// and restart. The node then starts with a fresh replica ID (the old ID must
// never be reused, since its dots may already be at peers, and the damaged
// files may have lost some of them) and re-syncs its objects from peers by
// anti-entropy.
type CorruptError struct {
	// Path is the damaged file: the bbolt file or a log segment.
	Path string
	// Err is the underlying cause.
	Err error
}

// Error names the file and says what to do.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("data file %s is corrupt or unreadable: %v; "+
		"move the data directory aside and restart; the node will re-sync from peers with a fresh replica ID",
		e.Path, e.Err)
}

// Unwrap returns the underlying cause.
func (e *CorruptError) Unwrap() error { return e.Err }
