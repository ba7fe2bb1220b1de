package store

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCommit measures group commit: W goroutines commit one ~200-byte
// object each per call, as the daemon does per request, with and without
// fsync and with several CommitDelay windows. writes/s is the throughput;
// writes/tx the mean batch size; ms/tx the mean transaction time (with fsync).
//
//	go test -run x -bench Commit -benchtime 3s ./internal/store/
func BenchmarkCommit(b *testing.B) {
	for _, sync := range []bool{true, false} {
		delays := []time.Duration{0}
		if sync {
			delays = append(delays, 200*time.Microsecond, 500*time.Microsecond, 2*time.Millisecond)
		}
		for _, delay := range delays {
			for _, writers := range []int{1, 16, 64} {
				name := fmt.Sprintf("fsync=%v/delay=%v/writers=%d", sync, delay, writers)
				b.Run(name, func(b *testing.B) {
					benchCommit(b, Options{NoSync: !sync, CommitDelay: delay}, writers)
				})
			}
		}
	}
}

func benchCommit(b *testing.B, opts Options, writers int) {
	s, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	value := []byte(strings.Repeat("v", 200))
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				key := fmt.Sprintf("cart-%d", i%10_000)
				if err := s.Commit(b.Context(), Write{Objects: map[string][]byte{key: value}, HLC: uint64(i)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	b.ReportMetric(float64(st.Commits)/float64(st.Transactions), "writes/tx")
	b.ReportMetric(float64(st.CommitDuration.Microseconds())/1000/float64(st.Transactions), "ms/tx")
}
