package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The index keeps, beside each object, the little the node needs without
// reading the object itself: its hash for anti-entropy, and whether it is
// listed. With it a node starts, counts and pages through millions of
// objects without loading them.
var (
	bucketIndex  = []byte("index")  // key -> Entry (9 bytes)
	bucketListed = []byte("listed") // key -> nothing, for listed objects only

	keyCounts  = []byte("index_counts") // entries, listed: 2 x uint64
	keyIndexed = []byte("indexed")      // present once every object has an entry
)

// Entry summarizes one stored object in the index.
type Entry struct {
	// Hash is the object's state hash (for gossip's digest); never 0.
	Hash uint64
	// Listed says whether the object shows in [Store.ListedAfter] pages and
	// counts as listed in [Store.Counts].
	Listed bool
}

const entryLen = 9

func (e Entry) encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, entryLen), e.Hash)
	if e.Listed {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeEntry(b []byte) (Entry, error) {
	if len(b) != entryLen || b[8] > 1 {
		return Entry{}, fmt.Errorf("index entry of %d bytes malformed", len(b))
	}
	return Entry{Hash: binary.BigEndian.Uint64(b), Listed: b[8] == 1}, nil
}

// Counts is what [Store.Counts] reports: figures kept up to date by every
// commit, never computed by a scan.
type Counts struct {
	// Entries is the number of objects with an index entry.
	Entries int
	// Listed is the number of those whose entry is listed.
	Listed int
}

func (c Counts) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.Entries))
	return binary.BigEndian.AppendUint64(b, uint64(c.Listed))
}

func decodeCounts(b []byte) (Counts, error) {
	if len(b) != 16 {
		return Counts{}, fmt.Errorf("index counts of %d bytes malformed", len(b))
	}
	e, l := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	if e > 1<<40 || l > e {
		return Counts{}, fmt.Errorf("index counts %d listed of %d impossible", l, e)
	}
	return Counts{Entries: int(e), Listed: int(l)}, nil
}

// Counts returns the number of index entries and of listed ones, as of the
// last commit.
func (s *Store) Counts() Counts {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	return s.counts
}

// Indexed reports whether every stored object has its index entry. A data
// file written by an older build has none until [Store.BuildIndex] ran.
func (s *Store) Indexed() bool { return s.indexed.Load() }

// indexTx writes the index entries of one write's objects and adjusts the
// counts. An object written without an entry in w.Index, or deleted, loses
// its entry.
func indexTx(tx *bolt.Tx, w *Write, c *Counts) error {
	for k, v := range w.Objects {
		var e *Entry
		if x, ok := w.Index[k]; ok && v != nil {
			e = &x
		}
		if err := setEntryTx(tx, k, e, c); err != nil {
			return err
		}
	}
	return nil
}

// setEntryTx sets key's index entry to e, or removes it if e is nil, and
// adjusts the counts.
func setEntryTx(tx *bolt.Tx, k string, e *Entry, c *Counts) error {
	index, listed := tx.Bucket(bucketIndex), tx.Bucket(bucketListed)
	key := []byte(k)
	if old := index.Get(key); old != nil {
		oe, err := decodeEntry(old)
		if err != nil {
			return fmt.Errorf("object %q: %v", k, err)
		}
		c.Entries--
		if oe.Listed {
			c.Listed--
		}
	}
	if e == nil {
		return errors.Join(index.Delete(key), listed.Delete(key))
	}
	if err := index.Put(key, e.encode()); err != nil {
		return err
	}
	c.Entries++
	if e.Listed {
		c.Listed++
		return listed.Put(key, nil)
	}
	return listed.Delete(key)
}

// validateIndex checks that every index entry belongs to an object the
// write stores.
func (w *Write) validateIndex() error {
	for k, e := range w.Index {
		if v, ok := w.Objects[k]; !ok || v == nil {
			return fmt.Errorf("commit index entry %q: %w: no object stored with it", k, ErrInvalidKey)
		}
		if e.Hash == 0 {
			return fmt.Errorf("commit index entry %q: %w: hash 0", k, ErrInvalidKey)
		}
	}
	return nil
}

// entriesPerTx is how many index entries one read transaction of
// [Store.Entries] reads: a long read transaction would hold up commits that
// grow the file (bbolt remaps it only between readers).
const entriesPerTx = 10_000

// Entries calls fn with every index entry, in key order, until fn returns
// false. It reads in short transactions, so entries committed meanwhile
// may or may not be seen; fn may call [Store.Commit].
func (s *Store) Entries(fn func(key string, e Entry) bool) error {
	var after []byte
	for {
		if s.isClosed() {
			return ErrClosed
		}
		type kv struct {
			k string
			e Entry
		}
		batch := make([]kv, 0, entriesPerTx)
		err := guard(func() error {
			return s.db.View(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketIndex).Cursor()
				k, v := c.First()
				if after != nil {
					if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
						k, v = c.Next()
					}
				}
				for ; k != nil && len(batch) < entriesPerTx; k, v = c.Next() {
					e, err := decodeEntry(v)
					if err != nil {
						return fmt.Errorf("index entry %q: %v", k, err)
					}
					batch = append(batch, kv{string(k), e})
				}
				return nil
			})
		})
		if err != nil {
			return &CorruptError{Path: s.path, Err: err}
		}
		for _, x := range batch {
			if !fn(x.k, x.e) {
				return nil
			}
		}
		if len(batch) < entriesPerTx {
			return nil
		}
		after = []byte(batch[len(batch)-1].k)
	}
}

// ListedAfter returns, in key order, up to limit keys of listed objects
// that start with prefix and sort after after, and whether more follow.
// It reads only the keys it returns (and one more).
func (s *Store) ListedAfter(prefix, after string, limit int) (keys []string, more bool, err error) {
	if s.isClosed() {
		return nil, false, ErrClosed
	}
	err = guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketListed).Cursor()
			start := []byte(prefix)
			if after > prefix {
				start = []byte(after)
			}
			k, _ := c.Seek(start)
			if k != nil && string(k) == after {
				k, _ = c.Next()
			}
			for ; k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
				if len(keys) == limit {
					more = true
					return nil
				}
				keys = append(keys, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, false, &CorruptError{Path: s.path, Err: err}
	}
	return keys, more, nil
}

// buildIndexBatch is how many objects one transaction of BuildIndex
// indexes: large enough to amortize the fsync, small enough to bound the
// transaction's dirty pages.
const buildIndexBatch = 10_000

// BuildIndex gives every stored object its index entry, computed by
// summarize from the object's state, and then marks the store indexed
// ([Store.Indexed]). A data file written by an older build needs this once;
// call it before any other write. It writes the entries in batches, each
// in a transaction of its own, so a crash part way leaves a store that is
// still not indexed, and a new BuildIndex starts again.
func (s *Store) BuildIndex(summarize func(key string, state []byte) (Entry, error)) error {
	var after []byte
	for {
		entries := make(map[string]Entry, buildIndexBatch)
		var walkErr error
		err := guard(func() error {
			return s.db.View(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketObjects).Cursor()
				k, v := c.First()
				if after != nil {
					k, v = c.Seek(after)
					if k != nil && bytes.Equal(k, after) {
						k, v = c.Next()
					}
				}
				for ; k != nil && len(entries) < buildIndexBatch; k, v = c.Next() {
					e, err := summarize(string(k), v)
					if err != nil {
						walkErr = fmt.Errorf("index object %q: %w", k, err)
						return walkErr
					}
					if e.Hash == 0 {
						walkErr = fmt.Errorf("index object %q: hash 0", k)
						return walkErr
					}
					entries[string(k)] = e
					after = bytes.Clone(k)
				}
				return nil
			})
		})
		if walkErr != nil {
			return walkErr
		}
		if err != nil {
			return &CorruptError{Path: s.path, Err: err}
		}
		if len(entries) == 0 {
			break
		}
		if err := s.putEntries(entries); err != nil {
			return fmt.Errorf("build index: %w", err)
		}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyIndexed, []byte{1})
	}); err != nil {
		return fmt.Errorf("build index: %w", err)
	}
	s.indexed.Store(true)
	return nil
}

// putEntries writes index entries of stored objects, and the counts, in
// one transaction.
func (s *Store) putEntries(entries map[string]Entry) error {
	c := s.Counts()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for k, e := range entries {
			if err := setEntryTx(tx, k, &e, &c); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyCounts, c.encode())
	})
	if err != nil {
		return err
	}
	s.countsMu.Lock()
	s.counts = c
	s.countsMu.Unlock()
	return nil
}
