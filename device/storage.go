package device

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Storage keeps a device's saved state: one byte string, replaced whole on
// every save. A [Device] calls Load once, in [New], and then Save after
// every change, before the change is visible or the call that made it
// returns. It never calls them concurrently, it holds no lock that readers
// of the device need while it does (so a slow Save delays only other
// changes), and it does not modify the bytes it passes to Save afterwards.
// Neither method may call back into the Device.
type Storage interface {
	// Load returns the bytes last saved, or no bytes (nil or empty) and a
	// nil error when nothing has been saved yet, so that New makes a new
	// device. An error stops New: the device must not start over while
	// its state may still be there.
	Load() ([]byte, error)
	// Save replaces the saved bytes with b, atomically: after a crash at
	// any point, Load returns either the old bytes or b. When it returns
	// nil, b must survive a crash (on a disk: synced). When it fails, the
	// Device keeps its previous state and reports the error to the caller
	// of the change.
	Save(b []byte) error
}

// ErrInUse is wrapped by the error of [NewFileStorage] when another
// process holds the same file. Two processes editing through the same
// state would each make changes under the same replica ID and the same
// sequence numbers, and nodes would keep only one of each.
var ErrInUse = errors.New("device state in use")

// FileStorage keeps a device's state in one file, replaced atomically on
// every save: the new state goes to a temporary file in the same
// directory, which is synced, renamed over the old one, and the directory
// is synced, so a crash leaves either the old state or the new one, never
// a mix. The file is readable by its owner only (0600).
//
// While open it holds a lock (an advisory lock on path+".lock", on Linux,
// macOS and the BSDs) so that a second process cannot use the same device.
// A FileStorage is used by one Device; it is not meant for concurrent use
// otherwise.
type FileStorage struct {
	path string
	lock *os.File
}

// NewFileStorage returns the storage for the state file at path (which
// need not exist yet; its directory must) and locks it for this process
// until Close. It errors wrapping [ErrInUse] when another process holds
// it.
func NewFileStorage(path string) (*FileStorage, error) {
	path = filepath.Clean(path)
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open device state: %w", err)
	}
	if err := lockFile(lock); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open device state %s: %w", path, err)
	}
	return &FileStorage{path: path, lock: lock}, nil
}

// Path returns the state file's path.
func (s *FileStorage) Path() string { return s.path }

// Load implements [Storage]: it returns the file's bytes, or nil when the
// file does not exist. An empty file or one over [MaxStateBytes] is an
// error wrapping [ErrCorrupt]: an atomic save never leaves either.
func (s *FileStorage) Load() ([]byte, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxStateBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	case len(b) == 0:
		return nil, fmt.Errorf("%w: %s is empty", ErrCorrupt, s.path)
	case len(b) > MaxStateBytes:
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrCorrupt, s.path, MaxStateBytes)
	}
	return b, nil
}

// Save implements [Storage]: it writes b to a temporary file beside the
// state file, syncs it, renames it over the state file and syncs the
// directory.
func (s *FileStorage) Save(b []byte) (err error) {
	dir, base := filepath.Split(s.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	// Sync before the rename: otherwise a crash could leave the new name
	// on a file whose content never reached the disk.
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save %s: sync: %w", s.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	// The rename is durable only once the directory is.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save %s: sync directory: %w", s.path, err)
	}
	return nil
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

// Close releases the lock. The storage must not be used afterwards. Close
// may be called twice.
func (s *FileStorage) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing the descriptor releases its lock
	s.lock = nil
	return err
}

// MemoryStorage keeps a device's state in memory, for tests and for
// programs that persist it some other way (Bytes returns what a Device
// saved). The zero value is empty and ready to use. A MemoryStorage is
// safe for concurrent use.
type MemoryStorage struct {
	mu    sync.Mutex
	b     []byte
	saves int
}

// Load implements [Storage]: it returns a copy of the bytes last saved.
func (m *MemoryStorage) Load() ([]byte, error) { return m.Bytes(), nil }

// Save implements [Storage]: it keeps a copy of b.
func (m *MemoryStorage) Save(b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.b = slices.Clone(b)
	m.saves++
	return nil
}

// Bytes returns a copy of the bytes last saved, nil if none.
func (m *MemoryStorage) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.b)
}

// Saves returns how many times Save was called.
func (m *MemoryStorage) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}
