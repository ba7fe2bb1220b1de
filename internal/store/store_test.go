package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testOptions are fast options for tests: fsync stays on unless a test
// says otherwise, since durability is what is under test.
func testOptions(tb testing.TB) Options {
	tb.Helper()
	return Options{LockTimeout: 50 * time.Millisecond}
}

func newTestStore(tb testing.TB, dir string, opts Options) *Store {
	tb.Helper()
	s, err := Open(dir, opts)
	must.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestReplicaID(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	s1, err := Open(dir1, testOptions(t))
	must.NoError(t, err)
	id := s1.ReplicaID()
	must.Regexp(t, regexp.MustCompile(`^r-[0-9a-f]{16}$`), id)
	must.NoError(t, s1.Close())

	s1, err = Open(dir1, testOptions(t))
	must.NoError(t, err)
	must.Equal(t, id, s1.ReplicaID(), "replica ID after reopen")
	must.NoError(t, s1.Close())

	s2 := newTestStore(t, dir2, testOptions(t))
	must.NotEqual(t, id, s2.ReplicaID(), "two data directories share a replica ID")
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := newTestStore(t, dir, testOptions(t))
	must.Equal(t, filepath.Join(dir, FileName), s.Path())
	info, err := os.Stat(dir)
	must.NoError(t, err)
	must.Equal(t, os.FileMode(0o700), info.Mode().Perm())
}

func TestCommitReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	must.Zero(t, s.HLC())
	must.NoError(t, s.Commit(ctx, Write{
		Objects:           map[string][]byte{"alice": []byte("a1"), "bob": []byte("b1"), "empty": {}},
		HLC:               42,
		IdempotencyKey:    "req-1",
		IdempotencyResult: []byte(`{"ok":true}`),
	}))
	must.Equal(t, uint64(42), s.HLC())
	must.NoError(t, s.Close())

	s, err = Open(dir, testOptions(t))
	must.NoError(t, err)
	must.Equal(t, uint64(42), s.HLC())
	v, ok, err := s.Get("alice")
	must.NoError(t, err)
	must.True(t, ok)
	must.Equal(t, []byte("a1"), v)
	v, ok, err = s.Get("empty")
	must.NoError(t, err)
	must.True(t, ok, "empty value stored")
	must.Len(t, v, 0)
	res, ok, err := s.LookupIdempotency("req-1")
	must.NoError(t, err)
	must.True(t, ok)
	must.Equal(t, []byte(`{"ok":true}`), res)
	_, ok, err = s.LookupIdempotency("req-2")
	must.NoError(t, err)
	must.False(t, ok)

	got := map[string]string{}
	must.NoError(t, s.ForEach(func(k string, v []byte) error {
		got[k] = string(v)
		return nil
	}))
	must.Equal(t, map[string]string{"alice": "a1", "bob": "b1", "empty": ""}, got)

	// Delete, and a lower HLC that must not lower the mark.
	must.NoError(t, s.Commit(ctx, Write{Objects: map[string][]byte{"alice": nil}, HLC: 7}))
	must.Equal(t, uint64(42), s.HLC())
	must.NoError(t, s.Close())

	s = newTestStore(t, dir, testOptions(t))
	_, ok, err = s.Get("alice")
	must.NoError(t, err)
	must.False(t, ok, "deleted object present after reopen")
	must.Equal(t, uint64(42), s.HLC())
}

func TestReturnedBytesAreCopies(t *testing.T) {
	s := newTestStore(t, t.TempDir(), testOptions(t))
	must.NoError(t, s.Commit(t.Context(), Write{Objects: map[string][]byte{"k": []byte("value")}}))
	v, _, err := s.Get("k")
	must.NoError(t, err)
	v[0] = 'X' // would fault if v were bbolt's read-only mmap
	must.NoError(t, s.ForEach(func(_ string, v []byte) error {
		v[0] = 'Y'
		return nil
	}))
	v, _, err = s.Get("k")
	must.NoError(t, err)
	must.Equal(t, "value", string(v))
}

func TestForEachError(t *testing.T) {
	s := newTestStore(t, t.TempDir(), testOptions(t))
	must.NoError(t, s.Commit(t.Context(), Write{Objects: map[string][]byte{"a": {1}, "b": {2}}}))
	stop := errors.New("stop")
	n := 0
	err := s.ForEach(func(string, []byte) error { n++; return stop })
	must.ErrorIs(t, err, stop)
	must.Equal(t, 1, n)
	must.Panics(t, "boom", func() {
		_ = s.ForEach(func(string, []byte) error { panic("boom") })
	}, "a caller's panic must not be reported as corruption")
}

func TestConcurrentCommits(t *testing.T) {
	const writers, perWriter = 64, 10
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				key := fmt.Sprintf("w%d-%d", w, i)
				errs <- s.Commit(t.Context(), Write{
					Objects:        map[string][]byte{key: []byte(key)},
					HLC:            uint64(w*perWriter + i),
					IdempotencyKey: "idem-" + key,
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must.NoError(t, err)
	}
	st := s.Stats()
	must.Equal(t, uint64(writers*perWriter), st.Commits)
	must.True(t, st.Transactions < st.Commits, "group commit did not batch: %+v", st)
	must.True(t, st.LargestBatch > 1, "max batch %d", st.LargestBatch)
	must.True(t, st.CommitDuration > 0, "commit duration %v", st.CommitDuration)
	must.Equal(t, uint64(writers*perWriter), st.IdempotencyKeys)
	var sum uint64
	for _, n := range st.TxLatency {
		sum += n
	}
	must.Equal(t, st.Transactions, sum, "latency histogram counts every transaction")
	t.Logf("%d writes in %d transactions (max batch %d), mean tx %v",
		st.Commits, st.Transactions, st.LargestBatch, st.CommitDuration/time.Duration(st.Transactions))
	must.NoError(t, s.Close())

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, uint64(writers*perWriter-1), s.HLC())
	n := 0
	must.NoError(t, s.ForEach(func(k string, v []byte) error {
		n++
		if k != string(v) {
			return fmt.Errorf("key %q has value %q", k, v)
		}
		return nil
	}))
	must.Equal(t, writers*perWriter, n)
	must.Equal(t, uint64(writers*perWriter), s.Stats().IdempotencyKeys, "count after reopen")
}

func TestFailingWriteFailsAlone(t *testing.T) {
	opts := testOptions(t)
	opts.CommitDelay = 50 * time.Millisecond // make the three share a batch
	bad := errors.New("bad write")
	opts.applyHook = func(w *Write) error {
		if _, ok := w.Objects["bad"]; ok {
			return bad
		}
		return nil
	}
	s := newTestStore(t, t.TempDir(), opts)
	var wg sync.WaitGroup
	results := make(map[string]error)
	var mu sync.Mutex
	for _, k := range []string{"good1", "bad", "good2"} {
		wg.Go(func() {
			err := s.Commit(t.Context(), Write{Objects: map[string][]byte{k: []byte(k)}, HLC: 9})
			mu.Lock()
			results[k] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	must.NoError(t, results["good1"])
	must.NoError(t, results["good2"])
	must.ErrorIs(t, results["bad"], bad)
	for k, want := range map[string]bool{"good1": true, "good2": true, "bad": false} {
		_, ok, err := s.Get(k)
		must.NoError(t, err)
		must.Equal(t, want, ok, "key %s present", k)
	}
	st := s.Stats()
	must.Equal(t, uint64(2), st.Commits)
	must.Equal(t, uint64(1), st.Failed)
}

func TestCommitValidation(t *testing.T) {
	s := newTestStore(t, t.TempDir(), testOptions(t))
	long := strings.Repeat("k", MaxKeyLen+1)
	big := make([]byte, MaxValueLen+1)
	tests := []struct {
		name string
		w    Write
		want error
	}{
		{"empty key", Write{Objects: map[string][]byte{"": {1}}}, ErrInvalidKey},
		{"long key", Write{Objects: map[string][]byte{long: {1}}}, ErrInvalidKey},
		{"big value", Write{Objects: map[string][]byte{"k": big}}, ErrTooLarge},
		{"long idempotency key", Write{IdempotencyKey: long}, ErrInvalidKey},
		{"big idempotency result", Write{IdempotencyKey: "i", IdempotencyResult: big}, ErrTooLarge},
		{"result without key", Write{IdempotencyResult: []byte("r")}, ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Commit(t.Context(), tt.w)
			must.ErrorIs(t, err, tt.want)
		})
	}
	must.Zero(t, s.Stats().Transactions, "an invalid write reached a transaction")
	// Keys of exactly the limit are fine.
	must.NoError(t, s.Commit(t.Context(), Write{Objects: map[string][]byte{long[1:]: {1}}}))
	_, _, err := s.Get("")
	must.ErrorIs(t, err, ErrInvalidKey)
	_, _, err = s.LookupIdempotency(long)
	must.ErrorIs(t, err, ErrInvalidKey)
}

func TestCommitCancelled(t *testing.T) {
	t.Run("before commit", func(t *testing.T) {
		s := newTestStore(t, t.TempDir(), testOptions(t))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Commit(ctx, Write{Objects: map[string][]byte{"k": {1}}, HLC: 5})
		must.ErrorIs(t, err, context.Canceled)
		_, ok, err := s.Get("k")
		must.NoError(t, err)
		must.False(t, ok)
		must.Zero(t, s.HLC())
		must.Zero(t, s.Stats().Transactions)
	})
	t.Run("while queued", func(t *testing.T) {
		opts := testOptions(t)
		opts.CommitDelay = time.Second
		s := newTestStore(t, t.TempDir(), opts)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		err := s.Commit(ctx, Write{Objects: map[string][]byte{"cancelled": {1}}, HLC: 5})
		must.ErrorIs(t, err, context.DeadlineExceeded)
		must.NoError(t, s.Commit(t.Context(), Write{Objects: map[string][]byte{"later": {1}}}))
		_, ok, err := s.Get("cancelled")
		must.NoError(t, err)
		must.False(t, ok, "a withdrawn write was committed")
		must.Zero(t, s.HLC())
		must.Equal(t, uint64(1), s.Stats().Commits)
	})
}

func TestClose(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions(t))
	must.NoError(t, err)
	must.NoError(t, s.Close())
	must.NoError(t, s.Close(), "second Close")
	must.ErrorIs(t, s.Commit(t.Context(), Write{Objects: map[string][]byte{"k": {1}}}), ErrClosed)
	_, _, err = s.Get("k")
	must.ErrorIs(t, err, ErrClosed)
	_, _, err = s.LookupIdempotency("k")
	must.ErrorIs(t, err, ErrClosed)
	must.ErrorIs(t, s.ForEach(func(string, []byte) error { return nil }), ErrClosed)
}

func TestCloseCommitsQueued(t *testing.T) {
	opts := testOptions(t)
	opts.CommitDelay = time.Hour // only Close can end the wait
	dir := t.TempDir()
	s, err := Open(dir, opts)
	must.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- s.Commit(context.Background(), Write{Objects: map[string][]byte{"k": {1}}}) }()
	must.Eventually(t, func() bool { return s.queueLen() == 1 }, 5*time.Second)
	must.NoError(t, s.Close())
	must.NoError(t, <-errc)
	s = newTestStore(t, dir, testOptions(t))
	_, ok, err := s.Get("k")
	must.NoError(t, err)
	must.True(t, ok)
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	newTestStore(t, dir, testOptions(t))
	start := time.Now()
	_, err := Open(dir, testOptions(t))
	must.ErrorIs(t, err, ErrLocked)
	must.Contains(t, err.Error(), "in use")
	must.True(t, time.Since(start) < 2*time.Second, "took %v", time.Since(start))
	var ce *CorruptError
	must.False(t, errors.As(err, &ce), "a locked file is not corrupt")
}

// populated makes a closed store with enough data to span many pages.
func populated(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	opts := testOptions(t)
	opts.NoSync = true
	s, err := Open(dir, opts)
	must.NoError(t, err)
	objs := map[string][]byte{}
	for i := range 2000 {
		objs[fmt.Sprintf("cart-%04d", i)] = []byte(strings.Repeat("x", 200))
	}
	must.NoError(t, s.Commit(t.Context(), Write{Objects: objs}))
	must.NoError(t, s.Close())
	return dir
}

// corruptions are ways to damage the data file of [populated] so that Open
// must refuse it with a [*CorruptError].
var corruptions = []struct {
	name   string
	damage func(t *testing.T, path string)
}{
	{"garbage", func(t *testing.T, path string) {
		must.NoError(t, os.WriteFile(path, []byte(strings.Repeat("garbage!", 4096)), 0o600))
	}},
	{"short garbage", func(t *testing.T, path string) {
		must.NoError(t, os.WriteFile(path, []byte("not a database"), 0o600))
	}},
	{"truncated to half", func(t *testing.T, path string) {
		info, err := os.Stat(path)
		must.NoError(t, err)
		must.NoError(t, os.Truncate(path, info.Size()/2))
	}},
	{"truncated to 100 bytes", func(t *testing.T, path string) {
		must.NoError(t, os.Truncate(path, 100))
	}},
	{"data pages overwritten", func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		must.NoError(t, err)
		defer f.Close()
		info, err := f.Stat()
		must.NoError(t, err)
		junk := []byte(strings.Repeat("\xff\x13", int(info.Size()/2)))
		_, err = f.WriteAt(junk[:info.Size()-4*4096], 4*4096)
		must.NoError(t, err)
	}},
	{"one leaf page overwritten", func(t *testing.T, path string) {
		// Scribble over the elements of the live leaf page holding
		// cart-1000, leaving its header intact.
		data, err := os.ReadFile(path)
		must.NoError(t, err)
		i := bytes.Index(data, []byte("cart-1000"))
		must.True(t, i > 0, "key not found in file")
		off := i / 4096 * 4096
		must.Equal(t, byte(0x02), data[off+8], "page flags")
		for j := off + 16; j < off+4096; j++ {
			data[j] = 0xee
		}
		must.NoError(t, os.WriteFile(path, data, 0o600))
	}},
	{"meta pages overwritten", func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		must.NoError(t, err)
		defer f.Close()
		_, err = f.WriteAt([]byte(strings.Repeat("\x00\x01", 4096)), 0)
		must.NoError(t, err)
	}},
}

func TestCorrupt(t *testing.T) {
	for _, tt := range corruptions {
		t.Run(tt.name, func(t *testing.T) {
			dir := populated(t)
			path := filepath.Join(dir, FileName)
			tt.damage(t, path)
			s, err := Open(dir, testOptions(t))
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open of a damaged file succeeded")
			}
			var ce *CorruptError
			must.ErrorAs(t, err, &ce)
			must.Equal(t, path, ce.Path)
			must.Contains(t, err.Error(), path)
			must.Contains(t, err.Error(), "move the data directory aside")
			t.Log(err)

			// The failed Open released the lock: once the directory is
			// moved aside, the node starts with a fresh replica ID.
			must.NoError(t, os.Rename(dir, dir+".bad"))
			s = newTestStore(t, dir, testOptions(t))
			must.True(t, s.ReplicaID() != "")
		})
	}
}

// TestCorruptReopen: a failed Open of a damaged file leaves nothing of the
// file behind in the process (no descriptor, no mapping, no lock), so
// opening the same directory again reports the same damage, not a
// directory in use. A daemon that retries Open, or an operator tool that
// inspects the file after the node refused it, depends on that.
func TestCorruptReopen(t *testing.T) {
	for _, tt := range corruptions {
		t.Run(tt.name, func(t *testing.T) {
			dir := populated(t)
			path := filepath.Join(dir, FileName)
			tt.damage(t, path)
			for i := range 3 {
				s, err := Open(dir, testOptions(t))
				if err == nil {
					_ = s.Close()
					t.Fatalf("Open %d of a damaged file succeeded", i+1)
				}
				must.False(t, errors.Is(err, ErrLocked), "Open %d: %v", i+1, err)
				var ce *CorruptError
				must.ErrorAs(t, err, &ce, "Open %d", i+1)
				must.Equal(t, path, ce.Path)
			}
		})
	}
}

// TestCorruptErrorListsTenProblems: a file with many problems gives an
// error listing the first ten, not one line per damaged page.
func TestCorruptErrorListsTenProblems(t *testing.T) {
	dir := populated(t)
	path := filepath.Join(dir, FileName)
	// Grow the file by 25 zero pages and raise both meta pages' high-water
	// mark over them: each new page is then neither reachable nor free, one
	// "unreachable unfreed" problem apiece.
	const extra = 25
	data, err := os.ReadFile(path)
	must.NoError(t, err)
	pageSize := int(binary.LittleEndian.Uint32(data[16+8:]))
	for _, off := range []int{16, pageSize + 16} { // meta after a page header
		meta := data[off : off+64]
		pgid := binary.LittleEndian.Uint64(meta[40:])
		binary.LittleEndian.PutUint64(meta[40:], pgid+extra)
		h := fnv.New64a()
		h.Write(meta[:56])
		binary.LittleEndian.PutUint64(meta[56:], h.Sum64())
	}
	data = append(data, make([]byte, extra*pageSize)...)
	must.NoError(t, os.WriteFile(path, data, 0o600))

	_, err = Open(dir, testOptions(t))
	var ce *CorruptError
	must.ErrorAs(t, err, &ce)
	must.Equal(t, 10, strings.Count(err.Error(), "unreachable unfreed"), "%v", err)
}

func TestNotAStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, nil)
	must.NoError(t, err)
	must.NoError(t, db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("something_else"))
		return err
	}))
	must.NoError(t, db.Close())
	_, err = Open(dir, testOptions(t))
	var ce *CorruptError
	must.ErrorAs(t, err, &ce)
	must.Contains(t, err.Error(), "not a crdtd data file")
}

func TestFormatVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	must.NoError(t, s.Close())
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	must.NoError(t, err)
	must.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyFormat, u64(99))
	}))
	must.NoError(t, db.Close())
	_, err = Open(dir, testOptions(t))
	must.ErrorIs(t, err, ErrFormatVersion)
	must.Contains(t, err.Error(), "99")
}

func TestOptionsValidation(t *testing.T) {
	for _, opts := range []Options{{CommitDelay: -1}, {MaxBatch: -1}, {LockTimeout: -1}, {IdempotencyTTL: -1}, {MaxIdempotencyKeys: -1}} {
		_, err := Open(t.TempDir(), opts)
		must.Error(t, err, "options %+v", opts)
	}
}

func TestReadCorruptWithSkipCheck(t *testing.T) {
	dir := populated(t)
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	must.NoError(t, err)
	i := bytes.Index(data, []byte("cart-1000"))
	off := i / 4096 * 4096
	for j := off + 16; j < off+4096; j++ {
		data[j] = 0xee
	}
	must.NoError(t, os.WriteFile(path, data, 0o600))

	opts := testOptions(t)
	opts.SkipCheck = true
	s := newTestStore(t, dir, opts)
	var ce *CorruptError
	must.ErrorAs(t, s.ForEach(func(string, []byte) error { return nil }), &ce)
	_, _, err = s.Get("cart-1000")
	must.ErrorAs(t, err, &ce)
}
