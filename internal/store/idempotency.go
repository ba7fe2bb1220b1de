package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Idempotency keys live in one bucket ordered by age:
//
//	idempotency_by_time:  created (8 bytes, unix ns, big endian) ++ key -> result
//
// and in an in-memory index, key -> created, built at Open. New entries are
// appended at the end of the bucket, so a checkpoint that stores thousands
// of them writes a few sequential pages instead of one random page each;
// pruning reads and deletes from the front. A lookup that misses (the usual
// case: a request's first attempt) touches only the index.
//
// Format version 1 kept a second bucket, key -> created ++ result; Open
// migrates it.

// pruneBatch bounds the deletions one transaction makes, so that a backlog
// (say, after a day offline) is worked off over several commits instead of
// making one of them slow.
const pruneBatch = 1024

// LookupIdempotency returns a copy of the result stored with key by an
// earlier [Write] or logged with it by an earlier [Record], if it has not
// yet expired.
func (s *Store) LookupIdempotency(key string) (result []byte, ok bool, err error) {
	if err := validateKey(key); err != nil {
		return nil, false, err
	}
	if s.isClosed() {
		return nil, false, ErrClosed
	}
	cutoff := s.opts.now().Add(-s.opts.IdempotencyTTL).UnixNano()
	if result, ok := s.wal.lookupIdem(key, cutoff); ok {
		return result, true, nil
	}
	s.idemMu.Lock()
	e, ok := s.idemIndex[key]
	s.idemMu.Unlock()
	created := e.created
	if !ok || created < cutoff {
		return nil, false, nil // absent, or expired and not pruned yet
	}
	err = guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			// Absent if pruned since the index was read: a miss.
			if v := tx.Bucket(bucketIdemTime).Get(timeKey(created, []byte(key))); v != nil {
				result, ok = bytes.Clone(v), true
			} else {
				ok = false
			}
			return nil
		})
	})
	if errors.Is(err, errPanic) {
		return nil, false, &CorruptError{Path: s.path, Err: err}
	}
	return result, ok, err
}

func timeKey(created int64, key []byte) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, uint64(created))
	return append(k, key...)
}

// idemEntry is what the index knows of a stored key: when it was created,
// and how many bytes its entry takes (key and result).
type idemEntry struct {
	created int64 // unix ns; idemGone in a transaction's changes if deleted
	size    int64
}

// idemTx tracks one transaction's changes to the idempotency index; they
// are applied to the index only once the transaction has committed.
type idemTx struct {
	changes map[string]idemEntry
	count   int   // keys stored, counting this transaction
	bytes   int64 // bytes of keys and results stored, counting this transaction
	started bool
	pruned  int
}

const idemGone = -1

// lookup returns key's entry as of this transaction.
func (s *Store) idemLookupTx(it *idemTx, key string) (idemEntry, bool) {
	if e, ok := it.changes[key]; ok {
		return e, e.created != idemGone
	}
	s.idemMu.Lock()
	defer s.idemMu.Unlock()
	e, ok := s.idemIndex[key]
	return e, ok
}

func (s *Store) idemBegin(it *idemTx) {
	if it.started {
		return
	}
	it.started = true
	it.changes = make(map[string]idemEntry)
	s.idemMu.Lock()
	it.count, it.bytes = len(s.idemIndex), s.idemBytes
	s.idemMu.Unlock()
}

// putIdempotencyTx stores key -> result, replacing an older entry.
func (s *Store) putIdempotencyTx(tx *bolt.Tx, key string, result []byte, created time.Time, it *idemTx) error {
	s.idemBegin(it)
	byTime := tx.Bucket(bucketIdemTime)
	k := []byte(key)
	if old, ok := s.idemLookupTx(it, key); ok {
		if err := byTime.Delete(timeKey(old.created, k)); err != nil {
			return err
		}
		it.bytes -= old.size
	} else {
		it.count++
	}
	c := created.UnixNano()
	if err := byTime.Put(timeKey(c, k), result); err != nil {
		return err
	}
	e := idemEntry{created: c, size: int64(len(key) + len(result))}
	it.changes[key] = e
	it.bytes += e.size
	return nil
}

// pruneIdempotencyTx deletes up to pruneBatch of the oldest entries that
// are expired or beyond the bounds on count and bytes.
func (s *Store) pruneIdempotencyTx(tx *bolt.Tx, now time.Time, it *idemTx) error {
	s.idemBegin(it)
	byTime := tx.Bucket(bucketIdemTime)
	cutoff := now.Add(-s.opts.IdempotencyTTL).UnixNano()
	limit, maxBytes := s.opts.MaxIdempotencyKeys, s.opts.MaxIdempotencyBytes

	var victims [][]byte
	var victimBytes int64
	c := byTime.Cursor()
	for k, v := c.First(); k != nil && len(victims) < pruneBatch; k, v = c.Next() {
		if len(k) < 8 {
			return fmt.Errorf("%w: idempotency entry key of %d bytes", errMalformed, len(k))
		}
		if int64(binary.BigEndian.Uint64(k)) >= cutoff && it.count-len(victims) <= limit && it.bytes-victimBytes <= maxBytes {
			break
		}
		victims = append(victims, bytes.Clone(k))
		victimBytes += int64(len(k) - 8 + len(v))
	}
	for _, k := range victims {
		if err := byTime.Delete(k); err != nil {
			return err
		}
		key, created := string(k[8:]), int64(binary.BigEndian.Uint64(k))
		if cur, ok := s.idemLookupTx(it, key); ok && cur.created == created {
			it.changes[key] = idemEntry{created: idemGone}
		}
	}
	it.count -= len(victims)
	it.bytes -= victimBytes
	it.pruned = len(victims)
	return nil
}

// idemCommitted applies a committed transaction's changes to the index.
func (s *Store) idemCommitted(it *idemTx) {
	if !it.started {
		return
	}
	s.idemMu.Lock()
	defer s.idemMu.Unlock()
	for k, e := range it.changes {
		if e.created == idemGone {
			delete(s.idemIndex, k)
		} else {
			s.idemIndex[k] = e
		}
	}
	s.idemBytes = it.bytes
	s.stats.idemKeys.Store(uint64(len(s.idemIndex)))
	s.stats.idemBytes.Store(uint64(max(0, it.bytes)))
}

// loadIdemIndex builds the index from the bucket, in one pass over its keys.
func (s *Store) loadIdemIndex() error {
	index := make(map[string]idemEntry)
	var total int64
	err := guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketIdemTime).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(k) < 9 {
					return fmt.Errorf("idempotency entry key of %d bytes", len(k))
				}
				e := idemEntry{created: int64(binary.BigEndian.Uint64(k)), size: int64(len(k) - 8 + len(v))}
				index[string(k[8:])] = e
				total += e.size
			}
			return nil
		})
	})
	if err != nil {
		return &CorruptError{Path: s.path, Err: err}
	}
	s.idemIndex, s.idemBytes = index, total
	s.stats.idemKeys.Store(uint64(len(index)))
	s.stats.idemBytes.Store(uint64(total))
	return nil
}

// migrateIdemV1 moves format 1's results into the time-ordered bucket and
// drops the key-ordered one. It runs in the transaction that reads the
// format version, so a crash leaves the file in one format or the other.
func migrateIdemV1(tx *bolt.Tx) error {
	old := tx.Bucket([]byte("idempotency"))
	byTime := tx.Bucket(bucketIdemTime)
	if old == nil || byTime == nil {
		return fmt.Errorf("idempotency buckets of format 1 missing")
	}
	if err := old.ForEach(func(k, v []byte) error {
		if len(v) < 8 {
			return fmt.Errorf("idempotency entry %q is %d bytes", k, len(v))
		}
		return byTime.Put(timeKey(int64(binary.BigEndian.Uint64(v)), k), bytes.Clone(v[8:]))
	}); err != nil {
		return err
	}
	if err := tx.DeleteBucket([]byte("idempotency")); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Delete([]byte("idempotency_count"))
}
