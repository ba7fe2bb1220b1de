package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSegmentSync compares a log write and fdatasync that append to a
// file with one that writes over zeros the file already holds, as records
// do in a recycled segment: the append changes the file's size, so each
// sync also commits the filesystem's journal. 3 KB per sync, about a
// batch of 20 writes. cpu-us/sync is the process's CPU time (user and
// system) per sync; ns/op is the wall time.
//
//	go test ./internal/store -run '^$' -bench SegmentSync
func BenchmarkSegmentSync(b *testing.B) {
	batch := make([]byte, 3000)
	for i := range batch {
		batch[i] = byte(i)
	}
	b.Run("append", func(b *testing.B) {
		f := benchFile(b, 0)
		benchSyncs(b, func() error {
			if _, err := f.Write(batch); err != nil {
				return err
			}
			return fdatasync(f)
		})
	})
	b.Run("overwrite", func(b *testing.B) {
		f := benchFile(b, 64<<20)
		var off int64
		benchSyncs(b, func() error {
			if off+int64(len(batch)) > 64<<20 {
				off = 0
			}
			if _, err := f.WriteAt(batch, off); err != nil {
				return err
			}
			off += int64(len(batch))
			return fdatasync(f)
		})
	})
}

// benchFile returns a new file in b's temporary directory holding size
// zero bytes, written and synced. Plain writes to it append, from offset 0.
func benchFile(b *testing.B, size int) *os.File {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "seg"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	for off := 0; off < size; off += len(zeros) {
		if _, err := f.WriteAt(zeros[:], int64(off)); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return f
}

func benchSyncs(b *testing.B, sync func() error) {
	cpu0 := processCPU()
	for b.Loop() {
		if err := sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/sync")
}

// processCPU returns the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
