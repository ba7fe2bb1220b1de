package store

import (
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Limits on what a [Write] may carry.
const (
	// MaxKeyLen is the longest object or idempotency key, in bytes.
	MaxKeyLen = 512
	// MaxValueLen is the largest object state or idempotency result, in bytes.
	MaxValueLen = 16 << 20
)

// Defaults used for zero [Options] fields.
const (
	DefaultCommitDelay         time.Duration = 0
	DefaultMaxBatch                          = 1000
	DefaultLockTimeout                       = time.Second
	DefaultIdempotencyTTL                    = 24 * time.Hour
	DefaultMaxIdempotencyKeys                = 100_000
	DefaultMaxIdempotencyBytes int64         = 64 << 20
)

// Options configures [Open]. The zero value is ready to use: every zero field
// means its default. Options are read once by Open and never change after.
type Options struct {
	// CommitDelay is how long the committer waits, after the first write of
	// a batch arrives, for more writes to join the same transaction and fsync.
	//
	// Default 0: no added wait. Batching happens without it, because writes
	// that arrive while a transaction is being fsynced queue up and go into
	// the next transaction together: 64 concurrent writers average ~32
	// writes per fsync. Measured with BenchmarkCommit on the project's
	// 2-core ext4 VM (fsync 0.5–4 ms on a shared disk), a window of 200 µs,
	// 500 µs or 2 ms cut a lone writer from ~1,300–1,700 to ~200–300
	// writes/s and 16 writers from ~6,700–12,600 to ~2,200–4,800; at 64
	// writers it filled batches (~63 vs ~33 writes per fsync) but throughput
	// stayed within run-to-run noise (8,000–36,000 writes/s either way). A
	// window pays only where fsync is cheap next to the per-transaction cost.
	CommitDelay time.Duration

	// MaxBatch is the most writes one transaction takes. Default 1000: large
	// enough that 64 concurrent writers always share one fsync, small enough
	// to bound one transaction's dirty pages and the latency of the writes
	// queued behind it.
	MaxBatch int

	// NoSync skips fsync after each transaction. Unsafe: a crash or power
	// loss may lose acknowledged writes or corrupt the file. For tests and
	// benchmarks only.
	NoSync bool

	// LockTimeout is how long Open waits for another process to release the
	// data file's lock before failing with [ErrLocked]. Default 1s: long
	// enough to ride out a restarting predecessor, short enough that an
	// operator who started a second daemon on the same directory is told so
	// at once instead of seeing it hang.
	LockTimeout time.Duration

	// IdempotencyTTL is how long an idempotency key is remembered. Default
	// 24h: clients retry within seconds or minutes; a day covers a client
	// that was offline overnight.
	IdempotencyTTL time.Duration

	// MaxIdempotencyKeys bounds the idempotency table; past it the oldest
	// keys are pruned first. Default 100,000 (a few MiB of results).
	MaxIdempotencyKeys int

	// MaxIdempotencyBytes bounds the bytes of keys and results the table
	// holds; past it the oldest keys are pruned first, so that clients
	// sending many keys with large results cannot grow the data file
	// without end. Default 64 MiB.
	MaxIdempotencyBytes int64

	// SkipCheck skips bbolt's full consistency check at Open. The check reads
	// every page once (about as long as loading all objects), and turns a
	// damaged file into a [*CorruptError] at startup rather than a failure
	// later. Skip it only for very large files whose startup time matters.
	SkipCheck bool

	// Logger receives open, error and pruning events. Nil discards them.
	Logger *slog.Logger

	// now is the clock for idempotency timestamps; tests replace it.
	now func() time.Time
	// applyHook, if set, runs before each write is applied in a
	// transaction; tests use it to make one write of a batch fail.
	applyHook func(*Write) error
	// syncLog, if set, replaces fdatasync of the log segment after each
	// batch is written, and after Open cuts a torn tail off it; tests use
	// it to hold a sync or make it fail.
	syncLog func(*os.File) error
	// gatherWait, if set, replaces defaultGatherWait: how long the log
	// waits for the last round's writers after a sync of the given length.
	gatherWait func(time.Duration) time.Duration
	// syncDir, if set, replaces the fsync of the data directory that makes
	// a new data file or log segment's name durable; tests use it to see
	// the syncs or make one fail.
	syncDir func(dir string) error
}

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.CommitDelay < 0:
		return o, fmt.Errorf("negative CommitDelay %v", o.CommitDelay)
	case o.MaxBatch < 0:
		return o, fmt.Errorf("negative MaxBatch %d", o.MaxBatch)
	case o.LockTimeout < 0:
		return o, fmt.Errorf("negative LockTimeout %v", o.LockTimeout)
	case o.IdempotencyTTL < 0:
		return o, fmt.Errorf("negative IdempotencyTTL %v", o.IdempotencyTTL)
	case o.MaxIdempotencyKeys < 0:
		return o, fmt.Errorf("negative MaxIdempotencyKeys %d", o.MaxIdempotencyKeys)
	case o.MaxIdempotencyBytes < 0:
		return o, fmt.Errorf("negative MaxIdempotencyBytes %d", o.MaxIdempotencyBytes)
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.IdempotencyTTL == 0 {
		o.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if o.MaxIdempotencyKeys == 0 {
		o.MaxIdempotencyKeys = DefaultMaxIdempotencyKeys
	}
	if o.MaxIdempotencyBytes == 0 {
		o.MaxIdempotencyBytes = DefaultMaxIdempotencyBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.syncLog == nil {
		o.syncLog = fdatasync
	}
	if o.gatherWait == nil {
		o.gatherWait = defaultGatherWait
	}
	if o.syncDir == nil {
		o.syncDir = syncDir
	}
	return o, nil
}
