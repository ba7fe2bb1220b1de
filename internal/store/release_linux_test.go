package store

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCorruptOpenLeavesNothingOpen: after Open refuses a damaged file, no
// descriptor and no memory mapping of the file is left in the process. A
// leftover mapping would keep the file's lock (TestCorruptReopen), its
// memory and, once the directory is moved aside and deleted, its disk
// space until the process exits.
func TestCorruptOpenLeavesNothingOpen(t *testing.T) {
	for _, tt := range corruptions {
		t.Run(tt.name, func(t *testing.T) {
			dir := populated(t)
			path := filepath.Join(dir, FileName)
			tt.damage(t, path)
			var st unix.Stat_t
			must.NoError(t, unix.Stat(path, &st))
			logs := &logRecorder{}
			opts := testOptions(t)
			opts.Logger = slog.New(logs)
			_, err := Open(dir, opts)
			var ce *CorruptError
			must.ErrorAs(t, err, &ce)
			for _, r := range logs.all() {
				must.True(t, r.Level < slog.LevelWarn, "logged %s %q", r.Level, r.Message)
			}

			maps, err := os.ReadFile("/proc/self/maps")
			must.NoError(t, err)
			must.Len(t, fileMappings(string(maps), unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino), 0, "mappings of %s left", path)
			fds, err := os.ReadDir("/proc/self/fd")
			must.NoError(t, err)
			for _, fd := range fds {
				target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
				if err == nil {
					must.False(t, strings.HasPrefix(target, path), "fd %s still open on %s", fd.Name(), target)
				}
			}
		})
	}
}

func TestFileMappings(t *testing.T) {
	maps := strings.Join([]string{
		"55f4baa65000-55f4baa67000 r--p 00000000 fe:00 247026                     /usr/bin/cat",
		"7f0000000000-7f0000008000 r--s 00000000 103:02 4242                     /data/crdtd.db",
		"7f0000010000-7f0000020000 r--s 00000000 103:02 4242                     /data/dir with spaces/crdtd.db (deleted)",
		"7f0000030000-7f0000040000 r--s 00000000 103:02 42420                    /data/other",
		"7f0000050000-7f0000060000 r--s 00000000 13:02 4242                      /elsewhere",
		"7f0000070000-7f0000080000 rw-p 00000000 00:00 0",
		"garbage line",
		"zz-7f0000090000 r--s 00000000 103:02 4242 /data/crdtd.db",
		"7f00000a0000-7f0000090000 r--s 00000000 103:02 4242 /data/crdtd.db",
		"7f00000b0000-7f00000c0000 r--s 00000000 103:02 4242",
		"7f00000d0000-7f00000d0000 r--s 00000000 103:02 4242 /data/crdtd.db",
	}, "\n") + "\n"
	got := fileMappings(maps, 0x103, 2, 4242)
	want := [][2]uintptr{
		{0x7f0000000000, 0x7f0000008000},
		{0x7f0000010000, 0x7f0000020000},
		{0x7f00000b0000, 0x7f00000c0000},
	}
	must.Equal(t, want, got)
	must.Len(t, fileMappings(maps, 0xfe, 0, 247026), 1)
	must.Len(t, fileMappings(maps, 0xfe, 0, 1), 0)
}
