package store

import (
	"os"
	"testing"
	"time"
)

func TestLatencyBucketBoundaries(t *testing.T) {
	last := len(latencyBounds)
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{100 * time.Microsecond, 0},
		{100*time.Microsecond + 1, 1},
		{250 * time.Microsecond, 1},
		{time.Second, last - 1},
		{time.Second + 1, last},
		{time.Hour, last},
	} {
		if got := latencyBucket(tc.d); got != tc.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

// TestLogAndCommitStats checks the log's and the committer's counters
// after two batches each, the first made slow (a slow disk, simulated in
// the sync and apply hooks): totals add up every batch, not just the last.
func TestLogAndCommitStats(t *testing.T) {
	const slow = 20 * time.Millisecond
	syncs, applies := 0, 0
	opts := testOptions(t)
	opts.syncLog = func(f *os.File) error {
		if syncs++; syncs == 1 {
			time.Sleep(slow) // the disk is slow, not the test waiting
		}
		return fdatasync(f)
	}
	opts.applyHook = func(*Write) error {
		if applies++; applies == 1 {
			time.Sleep(slow)
		}
		return nil
	}
	s := newTestStore(t, t.TempDir(), opts)
	recs := []Record{{Key: "c/a", Delta: []byte("one")}, {Key: "c/b", Delta: []byte("second")}}
	var frames int
	for _, r := range recs {
		logRecord(t, s, r)
		frames += len(appendFrame(nil, &r, time.Now()))
	}
	for _, k := range []string{"x", "y"} {
		must.NoError(t, s.Commit(t.Context(), Write{Objects: map[string][]byte{k: {1}}}))
	}
	st := s.Stats()
	must.Equal(t, uint64(2), st.Logged)
	must.Equal(t, uint64(2), st.LogSyncs)
	must.Equal(t, uint64(frames), st.LogBytes, "log bytes of two records")
	must.True(t, st.LogSyncDuration >= slow, "LogSyncDuration %v, want at least the slow first batch's %v", st.LogSyncDuration, slow)
	must.Equal(t, st.LogSyncs, sum(st.LogSyncLatency), "log latency histogram counts every batch")
	must.Equal(t, uint64(2), st.Commits)
	must.Equal(t, uint64(2), st.Transactions)
	must.Equal(t, 1, st.LargestBatch)
	must.True(t, st.CommitDuration >= slow, "CommitDuration %v, want at least the slow first transaction's %v", st.CommitDuration, slow)
	must.Equal(t, st.Transactions, sum(st.TxLatency), "transaction latency histogram counts every transaction")
}

func sum(xs []uint64) uint64 {
	var n uint64
	for _, x := range xs {
		n += x
	}
	return n
}

func TestParseSegmentName(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    uint64
		ok   bool
	}{
		{segmentName(1), 1, true},
		{segmentName(12345), 12345, true},
		{"crdtd-0000000000000000.wal", 0, false}, // segments are numbered from 1
		{"crdtd-x.wal", 0, false},
		{"crdtd-0000000000000001.wal.tmp", 0, false},
		{"other-0000000000000001.wal", 0, false},
	} {
		n, ok := parseSegmentName(tc.name)
		if ok != tc.ok || (ok && n != tc.n) {
			t.Errorf("parseSegmentName(%q) = %d, %v; want %d, %v", tc.name, n, ok, tc.n, tc.ok)
		}
	}
}
