package store

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the transaction latency buckets:
// from a fast SSD's fsync to a stalled disk.
var latencyBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, time.Second,
}

// LatencyBounds returns the upper bounds of [Stats.TxLatency]'s buckets,
// in increasing order; a final bucket without bound follows them.
func LatencyBounds() []time.Duration { return slices.Clone(latencyBounds[:]) }

// Stats are cumulative counters since [Open], for metrics.
type Stats struct {
	// Commits is the number of writes committed.
	Commits uint64
	// Failed is the number of writes answered with an error by the
	// committer (invalid writes rejected before queueing are not counted).
	Failed uint64
	// Transactions is the number of bbolt transactions committed; Commits
	// divided by Transactions is the mean group-commit batch size.
	Transactions uint64
	// CommitDuration is the total time spent in committed transactions,
	// from begin to the end of fsync.
	CommitDuration time.Duration
	// TxLatency counts committed transactions by duration: TxLatency[i]
	// counts those not longer than LatencyBounds()[i] (and longer than the
	// bound before); the last element counts the rest. Not cumulative.
	TxLatency []uint64
	// LargestBatch is the most writes one transaction has held.
	LargestBatch int
	// IdempotencyKeys is the number of idempotency keys stored now.
	IdempotencyKeys uint64
	// IdempotencyBytes is the bytes of the keys and results stored now.
	IdempotencyBytes uint64
	// IdempotencyPruned is the number of idempotency keys pruned.
	IdempotencyPruned uint64

	// Logged is the number of records appended to the write-ahead log.
	Logged uint64
	// LogSyncs is the number of log appends, each one write and one
	// fdatasync; Logged divided by LogSyncs is the mean group-commit batch.
	LogSyncs uint64
	// LogBytes is the number of bytes appended to the log.
	LogBytes uint64
	// LogSyncDuration is the total time spent writing and syncing the log.
	LogSyncDuration time.Duration
	// LogSyncLatency counts log appends by duration, bucketed like
	// TxLatency.
	LogSyncLatency []uint64
	// Checkpoints is the number of checkpoints that committed.
	Checkpoints uint64
	// LogPendingBytes is the size of the log not yet checkpointed.
	LogPendingBytes int64
}

type statsRecorder struct {
	failed      atomic.Uint64
	idemKeys    atomic.Uint64
	idemBytes   atomic.Uint64
	checkpoints atomic.Uint64

	// mu guards the fields below it.
	mu       sync.Mutex
	commits  uint64
	txs      uint64
	duration time.Duration
	latency  [len(latencyBounds) + 1]uint64
	maxBatch int
	pruned   uint64

	logged      uint64
	logSyncs    uint64
	logBytes    uint64
	logDuration time.Duration
	logLatency  [len(latencyBounds) + 1]uint64
}

// latencyBucket returns the index of d's bucket.
func latencyBucket(d time.Duration) int {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	return i
}

func (r *statsRecorder) recordLog(records, bytes int, d time.Duration) {
	i := latencyBucket(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logged += uint64(records)
	r.logSyncs++
	r.logBytes += uint64(bytes)
	r.logDuration += d
	r.logLatency[i]++
}

func (r *statsRecorder) recordTx(writes int, d time.Duration, out txOutcome) {
	i := latencyBucket(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits += uint64(writes)
	r.txs++
	r.duration += d
	r.latency[i]++
	r.maxBatch = max(r.maxBatch, writes)
	r.pruned += uint64(out.idem.pruned)
}

// Stats returns a snapshot of the store's counters.
func (s *Store) Stats() Stats {
	r := &s.stats
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{
		Commits:           r.commits,
		Failed:            r.failed.Load(),
		Transactions:      r.txs,
		CommitDuration:    r.duration,
		TxLatency:         append([]uint64(nil), r.latency[:]...),
		LargestBatch:      r.maxBatch,
		IdempotencyKeys:   r.idemKeys.Load(),
		IdempotencyBytes:  r.idemBytes.Load(),
		IdempotencyPruned: r.pruned,
		Logged:            r.logged,
		LogSyncs:          r.logSyncs,
		LogBytes:          r.logBytes,
		LogSyncDuration:   r.logDuration,
		LogSyncLatency:    append([]uint64(nil), r.logLatency[:]...),
		Checkpoints:       r.checkpoints.Load(),
		LogPendingBytes:   s.wal.pendingBytes(),
	}
}
