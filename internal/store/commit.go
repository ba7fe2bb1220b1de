package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Write is one logical change, committed atomically: all of it or none.
type Write struct {
	// Objects maps keys to the full canonical state to store. A nil value
	// deletes the object; an empty non-nil value stores an empty state.
	Objects map[string][]byte

	// HLC raises the persisted HLC high-water mark ([Store.HLC]) if it is
	// larger; a smaller value is ignored.
	HLC uint64

	// IdempotencyKey, if set, is stored with IdempotencyResult in the same
	// transaction as Objects, so a retried request finds either both the
	// change and its result or neither. Storing a key that exists replaces
	// it: callers look the key up ([Store.LookupIdempotency]) and track keys
	// in flight under their own lock before applying a change.
	IdempotencyKey string

	// IdempotencyResult is the response to replay for IdempotencyKey.
	IdempotencyResult []byte

	// Index holds the index entries ([Entry]) of objects in Objects, stored
	// in the same transaction. An object written without one, or deleted,
	// loses its entry.
	Index map[string]Entry

	// logged holds a checkpoint's idempotency results, copied from the log
	// with their original creation times.
	logged []loggedIdem
}

func (w *Write) empty() bool {
	return len(w.Objects) == 0 && w.HLC == 0 && w.IdempotencyKey == "" && len(w.logged) == 0
}

func (w *Write) validate() error {
	for k, v := range w.Objects {
		if err := validateKey(k); err != nil {
			return fmt.Errorf("commit object: %w", err)
		}
		if len(v) > MaxValueLen {
			return fmt.Errorf("commit object %q: %w: %d bytes, limit %d", k, ErrTooLarge, len(v), MaxValueLen)
		}
	}
	if err := w.validateIndex(); err != nil {
		return err
	}
	if w.IdempotencyKey == "" {
		if w.IdempotencyResult != nil {
			return fmt.Errorf("commit: %w: idempotency result without a key", ErrInvalidKey)
		}
		return nil
	}
	if err := validateKey(w.IdempotencyKey); err != nil {
		return fmt.Errorf("commit idempotency key: %w", err)
	}
	if len(w.IdempotencyResult) > MaxValueLen {
		return fmt.Errorf("commit idempotency result: %w: %d bytes, limit %d", ErrTooLarge, len(w.IdempotencyResult), MaxValueLen)
	}
	return nil
}

// Request states: the committer claims a pending request before reading it;
// a caller whose ctx ends claims it first to withdraw it.
const (
	reqPending int32 = iota
	reqTaken
	reqCancelled
)

type request struct {
	w     *Write
	state atomic.Int32
	done  chan error // capacity 1; receives the one result
}

// Commit writes w durably. It returns nil only after the transaction holding
// w has committed and been fsynced; any error means nothing of w was written.
//
// Concurrent calls are batched into one transaction and one fsync (group
// commit). An invalid write fails alone, before it joins a batch. If ctx ends
// before the committer has taken w, Commit returns ctx.Err() and w is never
// written; once w is in a transaction, Commit waits for its outcome (one
// fsync) whatever ctx does, so the answer is never ambiguous.
//
// Commit does not keep w or its byte slices after it returns; callers must
// not modify them while it runs.
func (s *Store) Commit(ctx context.Context, w Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.validate(); err != nil {
		return err
	}
	r := &request{w: &w, done: make(chan error, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if w.empty() {
		s.mu.Unlock()
		return nil
	}
	s.queue = append(s.queue, r)
	s.mu.Unlock()
	s.signal()

	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqCancelled) {
			return ctx.Err()
		}
		return <-r.done
	}
}

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run is the committer goroutine: it takes queued writes in batches of up to
// MaxBatch and commits each batch in one transaction. Writes that arrive
// while a transaction is being fsynced wait in the queue and form the next
// batch, so batching needs no timer; CommitDelay can widen the window.
func (s *Store) run() {
	defer close(s.done)
	var timer *time.Timer
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			for s.commitNext() {
			}
			return
		}
		if d := s.opts.CommitDelay; d > 0 && s.queueLen() < s.opts.MaxBatch {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
		gather:
			for {
				select {
				case <-timer.C:
					break gather
				case <-s.stop:
					timer.Stop()
					break gather
				case <-s.wake:
					if s.queueLen() >= s.opts.MaxBatch {
						timer.Stop()
						break gather
					}
				}
			}
		}
		if s.commitNext() {
			s.signal() // more queued than one batch takes
		}
	}
}

func (s *Store) queueLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// commitNext commits one batch from the queue and reports whether writes are
// still queued.
func (s *Store) commitNext() (more bool) {
	s.mu.Lock()
	var batch []*request
	n := 0
	for n < len(s.queue) && len(batch) < s.opts.MaxBatch {
		r := s.queue[n]
		s.queue[n] = nil
		n++
		if r.state.CompareAndSwap(reqPending, reqTaken) {
			batch = append(batch, r)
		}
	}
	s.queue = s.queue[n:]
	more = len(s.queue) > 0
	if !more {
		s.queue = nil // let the backing array go
	}
	s.mu.Unlock()
	if len(batch) > 0 {
		s.commitBatch(batch)
	}
	return more
}

// commitBatch commits batch in one transaction and answers every request.
// A write whose application fails is answered with its error and the
// transaction is retried without it, so one bad write never fails the
// others; a failed commit or fsync fails them all (none was written).
func (s *Store) commitBatch(batch []*request) {
	for len(batch) > 0 {
		now := s.opts.now()
		failed := -1
		var failErr error
		var txStats txOutcome
		start := time.Now()
		err := guard(func() error {
			return s.db.Update(func(tx *bolt.Tx) error {
				txStats = txOutcome{hlc: s.hlc.Load(), counts: s.Counts()}
				txStats.oldCounts = txStats.counts
				for i, r := range batch {
					if err := s.applyTx(tx, r.w, now, &txStats); err != nil {
						failed, failErr = i, err
						return err
					}
				}
				return s.finishTx(tx, now, &txStats)
			})
		})
		elapsed := time.Since(start)
		if failed >= 0 {
			batch[failed].done <- failErr
			s.stats.failed.Add(1)
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		if err != nil {
			if errors.Is(err, errPanic) {
				err = &CorruptError{Path: s.path, Err: err}
			} else {
				err = fmt.Errorf("commit transaction of %d writes: %v", len(batch), err)
			}
			s.opts.Logger.Error("store commit failed", "writes", len(batch), "err", err)
			for _, r := range batch {
				r.done <- err
			}
			s.stats.failed.Add(uint64(len(batch)))
			return
		}
		s.hlc.Store(txStats.hlc)
		s.countsMu.Lock()
		s.counts = txStats.counts
		s.countsMu.Unlock()
		s.idemCommitted(&txStats.idem)
		s.stats.recordTx(len(batch), elapsed, txStats)
		if txStats.idem.pruned > 0 {
			s.opts.Logger.Debug("pruned idempotency keys", "count", txStats.idem.pruned)
		}
		for _, r := range batch {
			r.done <- nil
		}
		return
	}
}

// txOutcome accumulates one transaction's effects on in-memory state, which
// is updated only once the transaction committed.
type txOutcome struct {
	hlc               uint64
	idem              idemTx
	counts, oldCounts Counts
}

// applyTx applies one write inside tx.
func (s *Store) applyTx(tx *bolt.Tx, w *Write, now time.Time, out *txOutcome) error {
	if s.opts.applyHook != nil {
		if err := s.opts.applyHook(w); err != nil {
			return err
		}
	}
	objects := tx.Bucket(bucketObjects)
	for k, v := range w.Objects {
		var err error
		if v == nil {
			err = objects.Delete([]byte(k))
		} else {
			err = objects.Put([]byte(k), v)
		}
		if err != nil {
			return fmt.Errorf("commit object %q: %v", k, err)
		}
	}
	if err := indexTx(tx, w, &out.counts); err != nil {
		return fmt.Errorf("commit index: %v", err)
	}
	out.hlc = max(out.hlc, w.HLC)
	for _, e := range w.logged {
		if err := s.putIdempotencyTx(tx, e.key, e.result, time.Unix(0, e.created), &out.idem); err != nil {
			return fmt.Errorf("checkpoint idempotency key %q: %v", e.key, err)
		}
	}
	if w.IdempotencyKey != "" {
		if err := s.putIdempotencyTx(tx, w.IdempotencyKey, w.IdempotencyResult, now, &out.idem); err != nil {
			return fmt.Errorf("commit idempotency key %q: %v", w.IdempotencyKey, err)
		}
	}
	return nil
}

// finishTx writes the batch's HLC high-water mark and prunes old
// idempotency keys, in the batch's transaction.
func (s *Store) finishTx(tx *bolt.Tx, now time.Time, out *txOutcome) error {
	meta := tx.Bucket(bucketMeta)
	if out.counts != out.oldCounts {
		if err := meta.Put(keyCounts, out.counts.encode()); err != nil {
			return err
		}
	}
	if out.hlc > s.hlc.Load() {
		if err := meta.Put(keyHLC, u64(out.hlc)); err != nil {
			return err
		}
	}
	return s.pruneIdempotencyTx(tx, now, &out.idem)
}
