package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Idempotency keys live in two buckets written together:
//
//	idempotency:          key -> created (8 bytes, unix ns, big endian) ++ result
//	idempotency_by_time:  created ++ key -> empty
//
// The second is ordered by age, so pruning reads only the entries it
// deletes: every transaction looks at the oldest entries and drops those past
// IdempotencyTTL or beyond MaxIdempotencyKeys. The live count is kept in
// meta, so the size bound costs nothing to check.

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
	err = guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketIdem).Get([]byte(key))
			if v == nil {
				return nil
			}
			if len(v) < 8 {
				return fmt.Errorf("%w: idempotency entry %q is %d bytes", errMalformed, key, len(v))
			}
			if int64(binary.BigEndian.Uint64(v)) < cutoff {
				return nil // expired, not pruned yet
			}
			result, ok = bytes.Clone(v[8:]), true
			return nil
		})
	})
	if errors.Is(err, errPanic) || errors.Is(err, errMalformed) {
		return nil, false, &CorruptError{Path: s.path, Err: err}
	}
	return result, ok, err
}

func idemCountTx(tx *bolt.Tx, out *txOutcome) uint64 {
	if !out.idemRead {
		if v := tx.Bucket(bucketMeta).Get(keyIdemCount); len(v) == 8 {
			out.idemCount = binary.BigEndian.Uint64(v)
		}
		out.idemRead = true
	}
	return out.idemCount
}

func timeKey(created int64, key []byte) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, uint64(created))
	return append(k, key...)
}

// putIdempotencyTx stores key -> result, replacing an older entry.
func putIdempotencyTx(tx *bolt.Tx, key string, result []byte, now time.Time, out *txOutcome) error {
	idem, byTime := tx.Bucket(bucketIdem), tx.Bucket(bucketIdemTime)
	k := []byte(key)
	count := idemCountTx(tx, out)
	if old := idem.Get(k); len(old) >= 8 {
		if err := byTime.Delete(timeKey(int64(binary.BigEndian.Uint64(old)), k)); err != nil {
			return err
		}
	} else {
		count++
	}
	created := now.UnixNano()
	v := make([]byte, 8, 8+len(result))
	binary.BigEndian.PutUint64(v, uint64(created))
	if err := idem.Put(k, append(v, result...)); err != nil {
		return err
	}
	if err := byTime.Put(timeKey(created, k), nil); err != nil {
		return err
	}
	out.idemCount, out.idemDirty = count, true
	return nil
}

// pruneIdempotencyTx deletes up to pruneBatch of the oldest entries that
// are expired or beyond the size bound, and writes the count back.
func (s *Store) pruneIdempotencyTx(tx *bolt.Tx, now time.Time, out *txOutcome) error {
	idem, byTime := tx.Bucket(bucketIdem), tx.Bucket(bucketIdemTime)
	count := idemCountTx(tx, out)
	cutoff := now.Add(-s.opts.IdempotencyTTL).UnixNano()
	limit := uint64(s.opts.MaxIdempotencyKeys)

	var victims [][]byte
	c := byTime.Cursor()
	for k, _ := c.First(); k != nil && len(victims) < pruneBatch; k, _ = c.Next() {
		if len(k) < 8 {
			return fmt.Errorf("idempotency time index entry is %d bytes", len(k))
		}
		if int64(binary.BigEndian.Uint64(k)) >= cutoff && count-uint64(len(victims)) <= limit {
			break
		}
		victims = append(victims, bytes.Clone(k))
	}
	for _, k := range victims {
		if err := byTime.Delete(k); err != nil {
			return err
		}
		if err := idem.Delete(k[8:]); err != nil {
			return err
		}
	}
	if len(victims) > 0 {
		out.idemCount = count - min(count, uint64(len(victims)))
		out.pruned = len(victims)
		out.idemDirty = true
	}
	if !out.idemDirty {
		return nil
	}
	return tx.Bucket(bucketMeta).Put(keyIdemCount, u64(out.idemCount))
}

// idemCountAtOpen reads the persisted idempotency key count for Stats.
func (s *Store) idemCountAtOpen() uint64 {
	var n uint64
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyIdemCount); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n
}
