package store

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// openIn returns the targets of this process's descriptors that are dir or
// inside it.
func openIn(tb testing.TB, dir string) []string {
	tb.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	must.NoError(tb, err)
	var out []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && (target == dir || strings.HasPrefix(target, dir+"/")) {
			out = append(out, target)
		}
	}
	return out
}

// TestNoDescriptorLeaks: a store holds its data file and its current log
// segment open, and nothing else of its directory (the directory itself
// only while syncing it); once closed, nothing at all.
func TestNoDescriptorLeaks(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d")})
	must.NoError(t, s.Checkpoint(t.Context(), func() map[string][]byte { return nil }))
	must.Equal(t, []string{filepath.Join(dir, segmentName(2)), filepath.Join(dir, FileName)}, slices.Sorted(slices.Values(openIn(t, dir))), "while open")
	must.NoError(t, s.Close())
	must.Len(t, openIn(t, dir), 0, "after Close")
}

// TestSyncDirReportsFailures: syncDir passes on a failed open or fsync of
// the directory. procfs refuses fsync (EINVAL), which stands in for a disk
// that fails it.
func TestSyncDirReportsFailures(t *testing.T) {
	must.NoError(t, syncDir(t.TempDir()))
	must.Error(t, syncDir(filepath.Join(t.TempDir(), "missing")))
	must.ErrorIs(t, syncDir("/proc"), syscall.EINVAL)
	must.Len(t, openIn(t, "/proc"), 0, "descriptor of /proc left open")
}
