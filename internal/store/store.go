package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the data file's name inside the data directory.
const FileName = "crdtd.db"

// formatVersion is the storage layout this build reads and writes. Bump it
// (and teach Open to migrate) whenever bucket layout or encodings change.
const formatVersion = 3

var (
	bucketMeta     = []byte("meta")
	bucketObjects  = []byte("objects")
	bucketIdemTime = []byte("idempotency_by_time")

	keyFormat    = []byte("format")
	keyReplicaID = []byte("replica_id")
	keyHLC       = []byte("hlc")
)

// Store is the durable local state of one node, kept in one bbolt file.
// It is safe for concurrent use.
type Store struct {
	db        *bolt.DB
	path      string
	replicaID string
	opts      Options

	// hlc mirrors the persisted HLC high-water mark; only the committer
	// writes it, after the transaction that raised it committed.
	hlc atomic.Uint64

	// mu guards the commit queue and the closed flag.
	mu     sync.Mutex
	queue  []*request
	closed bool

	wake      chan struct{} // capacity 1: "the queue is not empty"
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the committer has exited
	closeOnce sync.Once
	closeErr  error

	stats statsRecorder

	// idemIndex maps each stored idempotency key to its creation time and
	// size, and idemBytes sums the sizes (see idempotency.go); the committer
	// updates them after each commit.
	idemMu    sync.Mutex
	idemIndex map[string]idemEntry
	idemBytes int64

	// wal is the write-ahead log of local changes ([Store.Log]); replay
	// holds the records found in it at Open until [Store.Replay].
	wal      *wal
	replayMu sync.Mutex
	replay   []loggedRecord

	// checkpointMu lets one checkpoint run at a time.
	checkpointMu sync.Mutex

	// counts mirrors the persisted index counts; the committer updates it
	// after each commit. indexed says whether every object has its entry.
	countsMu sync.Mutex
	counts   Counts
	indexed  atomic.Bool
}

// Open opens the store in dir, creating dir (mode 0700) and dir/crdtd.db if
// needed. A new file gets a fresh random replica ID; an existing one keeps
// its own. A file that cannot be read as a store gives a [*CorruptError]; a
// file locked by another process gives an error wrapping [ErrLocked].
func Open(dir string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)

	db, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:   db,
		path: path,
		opts: opts,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if created && !opts.NoSync {
		// Make the new file's directory entry durable too, or a crash could
		// lose the whole file along with the writes acknowledged in it.
		if err := opts.syncDir(dir); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open store: sync %s: %v", dir, err)
		}
	}
	if err := s.loadIdemIndex(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if s.wal, s.replay, err = openWAL(dir, opts.NoSync, opts.syncLog, opts.gatherWait, opts.syncDir, opts.Logger, &s.stats); err != nil {
		_ = db.Close()
		var ce *CorruptError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	go s.run()
	opts.Logger.Info("store opened", "path", path, "replica", s.replicaID)
	return s, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// openBolt opens the bbolt file, turning bbolt's failure modes, including
// panics and memory faults on damaged pages, into typed errors.
func openBolt(path string, opts Options) (db *bolt.DB, err error) {
	var file *os.File
	bopts := &bolt.Options{
		Timeout:      opts.LockTimeout,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			file = f
			return f, err
		},
	}
	err = guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, bopts)
		return err
	})
	var pathErr *fs.PathError
	switch {
	case err == nil:
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	case errors.As(err, &pathErr) && file == nil:
		// The file itself could not be opened (permissions, a directory in
		// its place): moving it aside is not necessarily the fix.
		return nil, fmt.Errorf("open store: %w", err)
	default:
		if errors.Is(err, errPanic) && file != nil {
			// bbolt panicked half way, leaving its file open, locked and
			// perhaps mapped; otherwise it cleaned up itself.
			if rerr := releaseAbandoned(file); rerr != nil {
				opts.Logger.Warn("releasing a damaged data file after a failed open", "path", path, "err", rerr)
			}
			_ = file.Close()
		}
		return nil, &CorruptError{Path: path, Err: err}
	}

	// A file cut short after its meta pages were written would make bbolt
	// touch mmap pages past the end of the file (SIGBUS), so compare the
	// meta page's high-water mark with the real size before reading pages.
	err = guard(func() error {
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > info.Size() {
				return fmt.Errorf("file is %d bytes, its metadata says %d: truncated", info.Size(), tx.Size())
			}
			if opts.SkipCheck {
				return nil
			}
			return errors.Join(collect(tx.Check())...)
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, &CorruptError{Path: path, Err: err}
	}
	return db, nil
}

func collect(ch <-chan error) []error {
	var errs []error
	for err := range ch {
		if len(errs) < 10 {
			errs = append(errs, err)
		}
	}
	return errs
}

// guard runs fn, turning a panic or a memory fault (bbolt reading a damaged
// or missing mmap page) into an error.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if up, ok := r.(callerPanic); ok {
				panic(up.value)
			}
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return fn()
}

// errPanic marks a panic or memory fault inside bbolt: a damaged file.
var errPanic = errors.New("bbolt panic")

// errMalformed marks a record that bbolt read fine but that this package
// did not write in that shape.
var errMalformed = errors.New("malformed record")

// callerPanic carries a panic raised by a caller's callback through guard,
// which must not report it as a damaged file.
type callerPanic struct{ value any }

// callGuarded calls a caller's callback inside guard.
func callGuarded(fn func(string, []byte) error, k string, v []byte) error {
	defer func() {
		if r := recover(); r != nil {
			panic(callerPanic{r})
		}
	}()
	return fn(k, v)
}

// load creates the buckets and replica ID in a new file, or checks and
// loads them from an existing one.
func (s *Store) load() error {
	err := guard(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
					return fmt.Errorf("no %q bucket but found %q: not a crdtd data file", bucketMeta, name)
				}); err != nil {
					return err
				}
				return s.initTx(tx)
			}
			for _, name := range [][]byte{bucketObjects, bucketIdemTime} {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("bucket %q missing", name)
				}
			}
			v := meta.Get(keyFormat)
			if len(v) != 8 {
				return fmt.Errorf("format version missing or malformed")
			}
			switch got := binary.BigEndian.Uint64(v); got {
			case formatVersion:
			case 1, 2:
				if got == 1 {
					if err := migrateIdemV1(tx); err != nil {
						return fmt.Errorf("migrate format 1: %w", err)
					}
				}
				// Format 3 adds the index; BuildIndex fills it.
				for _, name := range [][]byte{bucketIndex, bucketListed} {
					if _, err := tx.CreateBucketIfNotExists(name); err != nil {
						return err
					}
				}
				if err := meta.Put(keyFormat, u64(formatVersion)); err != nil {
					return err
				}
			default:
				return &versionError{got: got}
			}
			for _, name := range [][]byte{bucketIndex, bucketListed} {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("bucket %q missing", name)
				}
			}
			if v := meta.Get(keyCounts); v != nil {
				c, err := decodeCounts(v)
				if err != nil {
					return err
				}
				s.counts = c
			}
			s.indexed.Store(meta.Get(keyIndexed) != nil)
			id := meta.Get(keyReplicaID)
			if len(id) == 0 {
				return fmt.Errorf("replica ID missing")
			}
			s.replicaID = string(id)
			if v := meta.Get(keyHLC); v != nil {
				if len(v) != 8 {
					return fmt.Errorf("HLC high-water mark malformed")
				}
				s.hlc.Store(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	var ve *versionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return fmt.Errorf("open %s: %w %d (this build reads version %d)", s.path, ErrFormatVersion, ve.got, formatVersion)
	default:
		return &CorruptError{Path: s.path, Err: err}
	}
}

type versionError struct{ got uint64 }

func (e *versionError) Error() string { return fmt.Sprintf("format version %d", e.got) }

// initTx lays out a new file. It runs in the same transaction that
// checked the file was empty, so a crash leaves either nothing or all of it.
func (s *Store) initTx(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketObjects, bucketIdemTime, bucketIndex, bucketListed} {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	id, err := newReplicaID()
	if err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyFormat, u64(formatVersion)); err != nil {
		return err
	}
	if err := meta.Put(keyReplicaID, []byte(id)); err != nil {
		return err
	}
	if err := meta.Put(keyIndexed, []byte{1}); err != nil {
		return err
	}
	s.indexed.Store(true)
	s.replicaID = id
	return nil
}

// newReplicaID returns "r-" and 16 hex digits from crypto/rand. 64 random
// bits make a collision among even a million data directories a
// one-in-ten-million event, and the ID is short because every delta on the
// wire carries it (an add-to-cart delta fits in 64 bytes; docs/benchmarks.md).
func newReplicaID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate replica ID: %v", err)
	}
	return "r-" + hex.EncodeToString(b[:]), nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// ReplicaID returns this data file's replica ID. It was generated when the
// file was created and is never reused by another file.
func (s *Store) ReplicaID() string { return s.replicaID }

// Path returns the data file's path.
func (s *Store) Path() string { return s.path }

// HLC returns the persisted HLC high-water mark: the largest [Write.HLC]
// committed or [Record.HLC] logged so far, or 0 if none. The daemon starts its clock above it, so
// timestamps never go back across a restart even if the wall clock did.
func (s *Store) HLC() uint64 { return max(s.hlc.Load(), s.wal.hlc()) }

// ForEach calls fn for every object, in key order, inside one read
// transaction. value is a buffer reused between calls: it is valid only
// during the call, and fn must copy it to keep it. fn must not call
// [Store.Commit]: a commit that grows the file waits for this read
// transaction to end. An error from fn stops the walk and is returned.
func (s *Store) ForEach(fn func(key string, value []byte) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	var fnErr error
	var buf []byte
	err := guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketObjects).ForEach(func(k, v []byte) error {
				buf = append(buf[:0], v...)
				if err := callGuarded(fn, string(k), buf); err != nil {
					fnErr = err
					return err
				}
				return nil
			})
		})
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return &CorruptError{Path: s.path, Err: err}
	}
	return nil
}

// Get returns a copy of the object stored under key.
func (s *Store) Get(key string) (value []byte, ok bool, err error) {
	if err := validateKey(key); err != nil {
		return nil, false, err
	}
	if s.isClosed() {
		return nil, false, ErrClosed
	}
	err = guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketObjects).Get([]byte(key)); v != nil {
				value, ok = bytes.Clone(v), true
			}
			return nil
		})
	})
	if errors.Is(err, errPanic) {
		return nil, false, &CorruptError{Path: s.path, Err: err}
	}
	return value, ok, err
}

func validateKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d, want 1..%d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close commits the writes already queued, stops the committer and closes
// the file. Commits called after Close return [ErrClosed]. Close may be
// called more than once; later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// Let a running checkpoint finish: one that rotated after the log
		// closed would leave a segment and its file open behind.
		s.checkpointMu.Lock()
		defer s.checkpointMu.Unlock()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		walErr := s.wal.close()
		close(s.stop)
		<-s.done
		s.closeErr = errors.Join(walErr, s.db.Close())
	})
	return s.closeErr
}
