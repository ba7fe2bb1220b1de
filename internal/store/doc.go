// Package store is crdtd's durable local state: a bbolt file per data
// directory holding every object's canonical state, the replica ID, the
// hybrid-logical-clock high-water mark and the idempotency keys of recent
// client requests, and beside it a write-ahead log of recent local changes.
//
// A [Store] hands out a replica ID that is generated once, when the data file
// is created, and never reused. [ResetReplicaID] replaces it with a fresh one,
// for a data directory restored from a backup.
//
// There are two ways to make a change durable:
//
//   - [Store.Log] appends a [Record] — the change as a delta, with its
//     idempotency key and result — to the write-ahead log and returns once it
//     is fdatasynced. Concurrent records share one write and one fdatasync
//     (group commit). This is how the node makes its own writes durable: an
//     append of a few hundred bytes instead of rewriting the object.
//   - [Store.Commit] writes whole objects into a bbolt transaction, also
//     group-committed. The node persists carts merged from peers this way.
//
// [Store.Checkpoint] folds the log into the data file: it closes the current
// log segment, waits until the caller has applied every record in it
// (the release function [Store.Log] returned), commits the caller's snapshot
// of the changed objects with the logged idempotency keys, and deletes the
// covered segments. After a crash, [Store.Replay] hands back the records the
// log still holds for the caller to merge into the objects it loaded with
// [Store.ForEach]. That this is safe rests on the objects being CRDTs:
// merging a delta is idempotent, so replaying a record the data file already
// reflects changes nothing, and no bookkeeping of which records a checkpoint
// covered survives a crash.
//
// A record torn by a crash at the end of the newest segment is cut off at
// Open (its write was never acknowledged). Any other unreadable record, or a
// data file that cannot be read, is reported as a [*CorruptError] naming the
// file; a data directory already opened by another process is reported as
// [ErrLocked].
//
// All bytes returned by the package are copies: bbolt memory is valid only
// inside its transaction and is never handed out. A Store is safe for
// concurrent use.
package store
