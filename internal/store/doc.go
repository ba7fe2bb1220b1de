// Package store is crdtd's durable local state: one bbolt file per data
// directory holding every object's canonical state, the replica ID, the
// hybrid-logical-clock high-water mark and the idempotency keys of recent
// client requests (DESIGN §7).
//
// A [Store] hands out a replica ID that is generated once, when the data file
// is created, and never reused. [Store.Commit] returns only after the write
// is in a committed, fsynced bbolt transaction; concurrent commits share one
// transaction and one fsync (group commit), so throughput grows with the
// number of writers while each caller still gets its own result. A data file
// that cannot be read is reported as a [*CorruptError] naming the file; a data
// directory already opened by another process is reported as [ErrLocked].
//
// All bytes returned by the package are copies: bbolt memory is valid only
// inside its transaction and is never handed out. A Store is safe for
// concurrent use.
package store
