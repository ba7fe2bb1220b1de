package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseAbandoned frees what a bolt.Open that panicked half way left of
// the data file f in this process: bbolt's memory mapping of it and its
// lock. bbolt maps the file after locking it, and the mapping keeps a
// reference to the open file, so closing f alone would keep the lock (and
// the mapping) until the process exits: a second Open would then report
// the directory in use. bbolt's own handle is gone with the panic, so the
// mapping is found in /proc/self/maps by f's device and inode. Every
// mapping of the file in this process is bbolt's: it maps only while
// holding the exclusive lock, which f still holds. The caller closes f.
func releaseAbandoned(f *os.File) error {
	err := unmapFile(f)
	// Unlock even if the mapping stayed: then at least the lock goes.
	if uerr := unix.Flock(int(f.Fd()), unix.LOCK_UN); uerr != nil {
		err = errors.Join(err, fmt.Errorf("unlock: %w", uerr))
	}
	return err
}

// unmapFile removes every mapping of f from this process.
func unmapFile(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range fileMappings(string(maps), unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino) {
		if _, _, errno := unix.Syscall(unix.SYS_MUNMAP, r[0], r[1]-r[0], 0); errno != 0 {
			errs = append(errs, fmt.Errorf("munmap %#x-%#x: %w", r[0], r[1], errno))
		}
	}
	return errors.Join(errs...)
}

// fileMappings returns the address ranges [start, end) of the mappings in
// maps (the text of /proc/self/maps) of the file with the given device
// numbers and inode.
func fileMappings(maps string, major, minor uint32, ino uint64) [][2]uintptr {
	dev := fmt.Sprintf("%02x:%02x", major, minor)
	inode := strconv.FormatUint(ino, 10)
	var ranges [][2]uintptr
	for line := range strings.Lines(maps) {
		// start-end perms offset dev inode [path]
		f := strings.Fields(line)
		if len(f) < 5 || f[3] != dev || f[4] != inode {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		ranges = append(ranges, [2]uintptr{uintptr(start), uintptr(end)})
	}
	return ranges
}
