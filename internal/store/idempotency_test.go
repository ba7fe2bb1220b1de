package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fakeClock is a settable clock for idempotency expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func idemStore(t *testing.T, dir string, clock *fakeClock) *Store {
	t.Helper()
	opts := testOptions(t)
	opts.NoSync = true
	opts.IdempotencyTTL = time.Hour
	opts.MaxIdempotencyKeys = 5
	opts.now = clock.now
	return newTestStore(t, dir, opts)
}

func present(t *testing.T, s *Store, keys ...string) []string {
	t.Helper()
	var got []string
	for _, k := range keys {
		_, ok, err := s.LookupIdempotency(k)
		must.NoError(t, err)
		if ok {
			got = append(got, k)
		}
	}
	return got
}

func TestIdempotencyPruneBySize(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := idemStore(t, t.TempDir(), clock)
	var keys []string
	for i := range 8 {
		k := fmt.Sprintf("req-%d", i)
		keys = append(keys, k)
		must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: k, IdempotencyResult: []byte(k)}))
		clock.advance(time.Second)
	}
	must.Equal(t, keys[3:], present(t, s, keys...), "oldest keys pruned first")
	st := s.Stats()
	must.Equal(t, uint64(5), st.IdempotencyKeys)
	must.Equal(t, uint64(3), st.IdempotencyPruned)

	// Re-storing a key refreshes it rather than adding one.
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "req-3", IdempotencyResult: []byte("again")}))
	must.Equal(t, uint64(5), s.Stats().IdempotencyKeys)
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "req-8"}))
	must.Equal(t, []string{"req-3", "req-5", "req-6", "req-7", "req-8"}, present(t, s, append(keys, "req-8")...))
	res, _, err := s.LookupIdempotency("req-3")
	must.NoError(t, err)
	must.Equal(t, "again", string(res))
}

func TestIdempotencyPruneByAge(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	dir := t.TempDir()
	s := idemStore(t, dir, clock)
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "old", IdempotencyResult: []byte("r")}))
	clock.advance(50 * time.Minute)
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "young", IdempotencyResult: []byte("r")}))
	clock.advance(20 * time.Minute)

	// Expired keys are invisible at once, before anything prunes them.
	must.Equal(t, []string{"young"}, present(t, s, "old", "young"))
	must.Equal(t, uint64(2), s.Stats().IdempotencyKeys)

	// Any commit prunes them.
	must.NoError(t, s.Commit(t.Context(), Write{Objects: map[string][]byte{"k": {1}}}))
	must.Equal(t, uint64(1), s.Stats().IdempotencyKeys)
	must.NoError(t, s.Close())

	s = idemStore(t, dir, clock)
	must.Equal(t, uint64(1), s.Stats().IdempotencyKeys, "count persisted")
	must.Equal(t, []string{"young"}, present(t, s, "old", "young"))
	clock.advance(time.Hour)
	must.NoError(t, s.Commit(t.Context(), Write{HLC: 1}))
	must.Zero(t, s.Stats().IdempotencyKeys)
}

func TestIdempotencyPruneBacklogIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	opts := testOptions(t)
	opts.NoSync = true
	opts.MaxIdempotencyKeys = 10_000
	opts.now = clock.now
	s := newTestStore(t, t.TempDir(), opts)
	const n = 3000
	for i := range n {
		must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: fmt.Sprintf("k-%d", i)}))
	}
	must.Equal(t, uint64(n), s.Stats().IdempotencyKeys)
	clock.advance(DefaultIdempotencyTTL + time.Second)
	must.NoError(t, s.Commit(t.Context(), Write{HLC: 1}))
	must.Equal(t, uint64(n-pruneBatch), s.Stats().IdempotencyKeys, "one transaction prunes at most pruneBatch")
	for s.Stats().IdempotencyKeys > 0 {
		must.NoError(t, s.Commit(t.Context(), Write{HLC: 1}))
	}
	must.Equal(t, uint64(n), s.Stats().IdempotencyPruned)
}

// TestOpenMigratesFormat1 opens a data file laid out as format 1 wrote it
// (a key-ordered idempotency bucket beside the time index) and finds its
// keys, results and objects in the format 2 layout.
func TestOpenMigratesFormat1(t *testing.T) {
	dir := t.TempDir()
	created := time.Now().Add(-time.Minute).UnixNano()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	must.NoError(t, err)
	must.NoError(t, db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		objects, _ := tx.CreateBucket(bucketObjects)
		idem, _ := tx.CreateBucket([]byte("idempotency"))
		byTime, _ := tx.CreateBucket(bucketIdemTime)
		must.NoError(t, meta.Put(keyFormat, u64(1)))
		must.NoError(t, meta.Put(keyReplicaID, []byte("r-00000000000000aa")))
		must.NoError(t, meta.Put([]byte("idempotency_count"), u64(2)))
		must.NoError(t, objects.Put([]byte("c/a"), []byte("state")))
		for i, k := range []string{"req-1", "req-2"} {
			c := created + int64(i)
			must.NoError(t, idem.Put([]byte(k), append(u64(uint64(c)), "result of "+k...)))
			must.NoError(t, byTime.Put(timeKey(c, []byte(k)), nil))
		}
		return nil
	}))
	must.NoError(t, db.Close())

	for range 2 { // the second open reads format 2
		s, err := Open(dir, testOptions(t))
		must.NoError(t, err)
		must.Equal(t, "r-00000000000000aa", s.ReplicaID())
		must.Equal(t, uint64(2), s.Stats().IdempotencyKeys)
		for _, k := range []string{"req-1", "req-2"} {
			res, ok, err := s.LookupIdempotency(k)
			must.NoError(t, err)
			must.True(t, ok, "%s lost in migration", k)
			must.Equal(t, "result of "+k, string(res))
		}
		v, ok, err := s.Get("c/a")
		must.NoError(t, err)
		must.True(t, ok)
		must.Equal(t, "state", string(v))
		must.NoError(t, s.Close())
	}
	db, err = bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	must.NoError(t, err)
	defer db.Close()
	must.NoError(t, db.View(func(tx *bolt.Tx) error {
		must.True(t, tx.Bucket([]byte("idempotency")) == nil, "format 1 bucket left behind")
		must.Equal(t, uint64(formatVersion), binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keyFormat)))
		return nil
	}))
}

// TestIdempotencyPruneByBytes: past MaxIdempotencyBytes the oldest keys go
// first, whatever their count, so that large results cannot grow the data
// file without end; the table's size is reported.
func TestIdempotencyPruneByBytes(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	opts := testOptions(t)
	opts.NoSync = true
	opts.IdempotencyTTL = time.Hour
	opts.MaxIdempotencyBytes = 10_000
	opts.now = clock.now
	dir := t.TempDir()
	s := newTestStore(t, dir, opts)
	result := make([]byte, 1000)
	var keys []string
	for i := range 30 {
		k := fmt.Sprintf("big-%02d", i)
		keys = append(keys, k)
		must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: k, IdempotencyResult: result}))
		clock.advance(time.Second)
	}
	st := s.Stats()
	must.True(t, st.IdempotencyBytes <= 10_000, "table holds %d bytes, bound 10,000", st.IdempotencyBytes)
	kept := present(t, s, keys...)
	must.Equal(t, keys[len(keys)-len(kept):], kept, "the newest keys are kept")
	must.True(t, len(kept) >= 9, "only %d keys of about 1 KB kept under a 10 KB bound", len(kept))

	// The sizes come back with the index after a restart.
	must.NoError(t, s.Close())
	s = newTestStore(t, dir, opts)
	must.Equal(t, st.IdempotencyBytes, s.Stats().IdempotencyBytes)
}

// TestIdempotencyTTLBoundary: a key is remembered for exactly
// IdempotencyTTL, whether committed or only logged, and pruned only after.
func TestIdempotencyTTLBoundary(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := idemStore(t, t.TempDir(), clock)
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "committed", IdempotencyResult: []byte("c")}))
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d"), IdempotencyKey: "logged", IdempotencyResult: []byte("l")})

	clock.advance(time.Hour) // exactly the TTL
	must.NoError(t, s.Commit(t.Context(), Write{HLC: 1}))
	must.Zero(t, s.Stats().IdempotencyPruned, "pruned at exactly the TTL")
	must.Equal(t, []string{"committed", "logged"}, present(t, s, "committed", "logged"), "at exactly the TTL")

	clock.advance(time.Nanosecond)
	must.Len(t, present(t, s, "committed", "logged"), 0, "1ns past the TTL")
	must.NoError(t, s.Commit(t.Context(), Write{HLC: 2}))
	must.Equal(t, uint64(1), s.Stats().IdempotencyPruned, "pruned 1ns past the TTL (the logged key is pruned by a checkpoint)")
}

// TestIdempotencyPruneBySizeBoundary: MaxIdempotencyKeys keys are all
// kept; one more prunes exactly one.
func TestIdempotencyPruneBySizeBoundary(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := idemStore(t, t.TempDir(), clock) // MaxIdempotencyKeys 5
	for i := range 5 {
		clock.advance(time.Second)
		must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: fmt.Sprintf("k%d", i)}))
	}
	must.Equal(t, uint64(5), s.Stats().IdempotencyKeys, "keys at exactly the limit")
	must.Zero(t, s.Stats().IdempotencyPruned, "pruned at exactly the limit")
	clock.advance(time.Second)
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "k5"}))
	must.Equal(t, uint64(5), s.Stats().IdempotencyKeys, "keys one past the limit")
	must.Equal(t, []string{"k1", "k2", "k3", "k4", "k5"}, present(t, s, "k0", "k1", "k2", "k3", "k4", "k5"), "the oldest is pruned")
}

// format1File writes a data file in format 1's layout, with the
// key-ordered idempotency bucket's entries given (nil: no such bucket).
func format1File(t *testing.T, dir string, entries map[string][]byte) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	must.NoError(t, err)
	must.NoError(t, db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		_, _ = tx.CreateBucket(bucketObjects)
		_, _ = tx.CreateBucket(bucketIdemTime)
		must.NoError(t, meta.Put(keyFormat, u64(1)))
		must.NoError(t, meta.Put(keyReplicaID, []byte("r-00000000000000aa")))
		must.NoError(t, meta.Put([]byte("idempotency_count"), u64(uint64(len(entries)))))
		if entries != nil {
			idem, _ := tx.CreateBucket([]byte("idempotency"))
			for k, v := range entries {
				must.NoError(t, idem.Put([]byte(k), v))
			}
		}
		return nil
	}))
	must.NoError(t, db.Close())
}

func TestOpenMigratesFormat1Edges(t *testing.T) {
	t.Run("empty result", func(t *testing.T) {
		dir := t.TempDir()
		created := time.Now().Add(-time.Minute).UnixNano()
		format1File(t, dir, map[string][]byte{"req": u64(uint64(created))}) // 8 bytes: created, no result
		s := newTestStore(t, dir, testOptions(t))
		res, ok, err := s.LookupIdempotency("req")
		must.NoError(t, err)
		must.True(t, ok, "a key with an empty result lost in migration")
		must.Len(t, res, 0)
		must.NoError(t, s.Close())
		db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
		must.NoError(t, err)
		defer db.Close()
		must.NoError(t, db.View(func(tx *bolt.Tx) error {
			must.True(t, tx.Bucket(bucketMeta).Get([]byte("idempotency_count")) == nil, "format 1's count left behind")
			return nil
		}))
	})
	t.Run("entry shorter than a time", func(t *testing.T) {
		dir := t.TempDir()
		format1File(t, dir, map[string][]byte{"req": {1, 2, 3, 4, 5, 6, 7}})
		_, err := Open(dir, testOptions(t))
		var ce *CorruptError
		must.ErrorAs(t, err, &ce)
		must.Contains(t, err.Error(), "is 7 bytes")
	})
	t.Run("bucket missing", func(t *testing.T) {
		dir := t.TempDir()
		format1File(t, dir, nil)
		_, err := Open(dir, testOptions(t))
		var ce *CorruptError
		must.ErrorAs(t, err, &ce)
		must.Contains(t, err.Error(), "format 1 missing")
	})
}

// logRecorder is a slog.Handler keeping the records it receives.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// all returns the records received so far.
func (h *logRecorder) all() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.recs)
}

// counts returns the "count" attribute of each record with message msg.
func (h *logRecorder) counts(msg string) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int64
	for _, r := range h.recs {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "count" {
				out = append(out, a.Value.Int64())
			}
			return true
		})
	}
	return out
}

// TestIdempotencyPruneLogged: a commit that prunes keys logs how many, at
// debug level; one that prunes none logs nothing about it.
func TestIdempotencyPruneLogged(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	logs := &logRecorder{}
	opts := testOptions(t)
	opts.NoSync = true
	opts.IdempotencyTTL = time.Hour
	opts.MaxIdempotencyKeys = 2
	opts.now = clock.now
	opts.Logger = slog.New(logs)
	s := newTestStore(t, t.TempDir(), opts)
	for i := range 2 {
		must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: fmt.Sprintf("k%d", i)}))
		clock.advance(time.Second)
	}
	must.Len(t, logs.counts("pruned idempotency keys"), 0, "nothing pruned yet")
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "k2"}))
	must.Equal(t, []int64{1}, logs.counts("pruned idempotency keys"))
}

// TestIdempotencyReplaceCountsBytesOnce: storing a key again replaces its
// bytes in the table's size rather than adding to them, so the running
// count the byte bound prunes by matches what a restart counts from disk.
func TestIdempotencyReplaceCountsBytesOnce(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	dir := t.TempDir()
	s := idemStore(t, dir, clock)
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "a", IdempotencyResult: []byte("abc")}))
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "b", IdempotencyResult: []byte("bcdef")}))
	must.Equal(t, uint64(1+3+1+5), s.Stats().IdempotencyBytes)
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "a", IdempotencyResult: []byte("0123456789")}))
	must.Equal(t, uint64(1+10+1+5), s.Stats().IdempotencyBytes, "after replacing a")
	must.Equal(t, uint64(2), s.Stats().IdempotencyKeys)
	must.NoError(t, s.Close())
	s = idemStore(t, dir, clock)
	must.Equal(t, uint64(1+10+1+5), s.Stats().IdempotencyBytes, "after a restart")
}

// TestIdempotencyPruneByBytesBoundary: a table of exactly
// MaxIdempotencyBytes is kept whole; past it, one commit prunes as many of
// the oldest keys as it takes to get back under the bound, and no more.
func TestIdempotencyPruneByBytesBoundary(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	opts := testOptions(t)
	opts.NoSync = true
	opts.IdempotencyTTL = time.Hour
	opts.MaxIdempotencyBytes = 20
	opts.now = clock.now
	dir := t.TempDir()
	s := newTestStore(t, dir, opts)
	keys := []string{"a", "b", "c", "d", "e"}
	for _, k := range keys[:4] { // 1 + 4 bytes each
		must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: k, IdempotencyResult: []byte("1234")}))
		clock.advance(time.Second)
	}
	must.Equal(t, uint64(20), s.Stats().IdempotencyBytes)
	must.Zero(t, s.Stats().IdempotencyPruned, "pruned at exactly the bound")

	// 10 bytes more: a and b must go, in the same commit.
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "e", IdempotencyResult: []byte("123456789")}))
	must.Equal(t, []string{"c", "d", "e"}, present(t, s, keys...))
	must.Equal(t, uint64(2), s.Stats().IdempotencyPruned)
	must.Equal(t, uint64(20), s.Stats().IdempotencyBytes)
	must.NoError(t, s.Close())
	s = newTestStore(t, dir, opts)
	must.Equal(t, uint64(20), s.Stats().IdempotencyBytes, "after a restart")
}
