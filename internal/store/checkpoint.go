package store

import (
	"context"
	"fmt"
)

// Log appends rec to the write-ahead log and returns once it is durable:
// written and fdatasynced, together with whatever other records were queued
// meanwhile (group commit). Any error means rec is not acknowledged: it is
// cut off the log again, so a restart does not replay it either. After a
// failed write or sync every later Log fails too, since the state of the
// file is then unknown, and the node must be restarted. If ctx ends before
// the record is taken for writing, Log returns ctx.Err() and writes nothing.
//
// A logged record costs one sequential append, where [Store.Commit] rewrites
// the whole object in the data file; [Store.Checkpoint] later folds the log
// into the data file. On success the caller must call release once the
// change is in the state its checkpoint snapshot reads: a checkpoint waits
// for the release of every record it covers.
func (s *Store) Log(ctx context.Context, rec Record) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := rec.validate(); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, ErrClosed
	}
	release, err = s.wal.append(ctx, &rec, s.opts.now())
	if err == errLogStopped {
		return nil, ErrClosed
	}
	return release, err
}

// Replay calls fn, in log order, with the key and delta of every record the
// log held at Open, so the caller can merge them into the objects it loaded
// with [Store.ForEach]; their idempotency keys and HLC are already in effect.
// Replay hands each record out once: later calls find nothing. Merge the
// records and then call [Store.Checkpoint], which folds them into the data
// file and deletes the old log. An error from fn stops the replay and is
// returned.
func (s *Store) Replay(fn func(key string, delta []byte) error) error {
	s.replayMu.Lock()
	recs := s.replay
	s.replay = nil
	s.replayMu.Unlock()
	for i, r := range recs {
		if err := fn(r.Key, r.Delta); err != nil {
			return fmt.Errorf("replay log record %d (%s): %w", i, r.Key, err)
		}
	}
	return nil
}

// Checkpoint folds the log into the data file. It closes the current log
// segment, waits until every record in the segments it closes has been
// released, then calls snapshot and commits, in one transaction, the objects
// it returns together with the logged idempotency keys and the HLC, and
// finally deletes the covered segments.
//
// snapshot must return the current state (and index entry) of every object changed since the
// last successful checkpoint, including all released records' changes (it
// may return more). Objects merged from elsewhere and not logged can be
// written this way too. If Checkpoint fails nothing is deleted and the
// caller should offer the objects again at the next checkpoint.
func (s *Store) Checkpoint(ctx context.Context, snapshot func() map[string][]byte) error {
	return s.CheckpointIndexed(ctx, func() (map[string][]byte, map[string]Entry) { return snapshot(), nil })
}

// CheckpointIndexed is [Store.Checkpoint] for objects with index entries:
// snapshot returns them with the objects ([Write.Index]).
func (s *Store) CheckpointIndexed(ctx context.Context, snapshot func() (map[string][]byte, map[string]Entry)) error {
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	segments, err := s.wal.rotate()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	logged, hlc := s.wal.coveredIdem(segments)
	objects, index := snapshot()
	w := Write{Objects: objects, Index: index, HLC: hlc, logged: logged}
	if err := s.Commit(ctx, w); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	s.stats.checkpoints.Add(1)
	return s.wal.drop(segments)
}

// LogBytes returns the size of the log not yet folded into the data file
// by a checkpoint. Callers checkpoint when it grows large, which bounds both
// disk use and the time the next start spends replaying.
func (s *Store) LogBytes() int64 { return s.wal.pendingBytes() }

// Err returns the error that ended the write-ahead log, if a write or sync
// to it failed: from then on every [Store.Log] fails with it, and only a
// restart (which cuts off a partial record) makes the store writable again.
func (s *Store) Err() error {
	s.wal.mu.Lock()
	defer s.wal.mu.Unlock()
	return s.wal.err
}
