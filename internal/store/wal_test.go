package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type replayed struct{ key, delta string }

func replayAll(tb testing.TB, s *Store) []replayed {
	tb.Helper()
	var got []replayed
	must.NoError(tb, s.Replay(func(key string, delta []byte) error {
		got = append(got, replayed{key, string(delta)})
		return nil
	}))
	return got
}

func logRecord(tb testing.TB, s *Store, rec Record) {
	tb.Helper()
	release, err := s.Log(tb.Context(), rec)
	must.NoError(tb, err, "log %s", rec.Key)
	release()
}

func segmentFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, walPrefix+"*"+walSuffix))
	must.NoError(tb, err)
	return matches
}

// onlySegment returns the path and bytes of the one log segment in dir.
func onlySegment(tb testing.TB, dir string) (string, []byte) {
	tb.Helper()
	segs := segmentFiles(tb, dir)
	must.Len(tb, segs, 1)
	data, err := os.ReadFile(segs[0])
	must.NoError(tb, err)
	return segs[0], data
}

func TestLogSurvivesRestartAndReplaysInOrder(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d1"), HLC: 7, IdempotencyKey: "k1", IdempotencyResult: []byte("r1")})
	logRecord(t, s, Record{Key: "c/b", Delta: []byte("d2"), HLC: 9})
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d3"), HLC: 8})
	must.Equal(t, uint64(9), s.HLC(), "HLC before restart")
	res, ok, err := s.LookupIdempotency("k1")
	must.NoError(t, err)
	must.True(t, ok, "logged idempotency key not found before a checkpoint")
	must.Equal(t, "r1", string(res))
	must.NoError(t, s.Close())

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, []replayed{{"c/a", "d1"}, {"c/b", "d2"}, {"c/a", "d3"}}, replayAll(t, s))
	must.Len(t, replayAll(t, s), 0, "second replay")
	must.Equal(t, uint64(9), s.HLC(), "HLC after restart")
	res, ok, err = s.LookupIdempotency("k1")
	must.NoError(t, err)
	must.True(t, ok, "logged idempotency key lost in restart")
	must.Equal(t, "r1", string(res))
}

func TestCheckpointFoldsLogIntoDataFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("delta"), HLC: 42, IdempotencyKey: "k", IdempotencyResult: []byte("res")})
	must.True(t, s.LogBytes() > 0, "log holds the record")

	var snapshots int
	must.NoError(t, s.Checkpoint(t.Context(), func() map[string][]byte {
		snapshots++
		return map[string][]byte{"c/a": []byte("state")}
	}))
	must.Equal(t, 1, snapshots)
	must.Equal(t, int64(0), s.LogBytes(), "log bytes after checkpoint")
	must.Len(t, segmentFiles(t, dir), 1, "only the new, empty segment is left")
	must.Equal(t, uint64(1), s.Stats().Checkpoints)
	must.NoError(t, s.Close())

	s = newTestStore(t, dir, testOptions(t))
	must.Len(t, replayAll(t, s), 0, "checkpointed records replayed again")
	v, ok, err := s.Get("c/a")
	must.NoError(t, err)
	must.True(t, ok)
	must.Equal(t, "state", string(v))
	must.Equal(t, uint64(42), s.HLC(), "checkpointed HLC")
	res, ok, err := s.LookupIdempotency("k")
	must.NoError(t, err)
	must.True(t, ok, "idempotency key lost by checkpoint")
	must.Equal(t, "res", string(res))
}

func TestCheckpointWaitsForRelease(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, testOptions(t))
	release, err := s.Log(t.Context(), Record{Key: "c/a", Delta: []byte("d")})
	must.NoError(t, err)

	var snapshotted atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- s.Checkpoint(context.Background(), func() map[string][]byte {
			snapshotted.Store(true)
			return nil
		})
	}()
	// The checkpoint has rotated once a second segment exists; it must
	// then wait for the unreleased record.
	must.Eventually(t, func() bool { return len(segmentFiles(t, dir)) == 2 }, 5*time.Second, "checkpoint never rotated")
	must.False(t, snapshotted.Load(), "checkpoint snapshotted before the logged record was released")
	select {
	case err := <-done:
		t.Fatalf("checkpoint finished (err %v) before the logged record was released", err)
	default:
	}
	release()
	must.NoError(t, <-done)
	must.True(t, snapshotted.Load())
	must.Len(t, segmentFiles(t, dir), 1, "covered segment not deleted")
}

func TestLogGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, testOptions(t))
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				logRecord(t, s, Record{Key: fmt.Sprintf("c/%d-%d", w, i), Delta: []byte("x"), IdempotencyKey: fmt.Sprintf("i%d-%d", w, i)})
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	must.Equal(t, uint64(writers*each), st.Logged)
	must.True(t, st.LogSyncs < st.Logged, "no batching: %d syncs for %d records", st.LogSyncs, st.Logged)
	must.NoError(t, s.Close())

	s = newTestStore(t, dir, testOptions(t))
	must.Len(t, replayAll(t, s), writers*each)
}

func TestLogCutsTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(b []byte) []byte
		// intact: the tear is applied after both records (a torn start of a
		// third), not to the second record.
		intact bool
	}{
		{"half a header", func(b []byte) []byte { return append(b, 0, 0, 1) }, true},
		{"short payload", func(b []byte) []byte { return b[:len(b)-3] }, false},
		{"bad checksum", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }, false},
		{"half a header, zeros after it", func(b []byte) []byte { return append(append(b, 0, 0, 1), make([]byte, 64)...) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, testOptions(t))
			must.NoError(t, err)
			logRecord(t, s, Record{Key: "c/a", Delta: []byte("kept")})
			logRecord(t, s, Record{Key: "c/b", Delta: []byte("torn")})
			must.NoError(t, s.Close())

			seg, data := onlySegment(t, dir)
			first, n, err := readFrame(data)
			must.NoError(t, err)
			must.Equal(t, "c/a", first.Key)
			kept := len(data) // where the tear starts
			if tc.intact {
				data = tc.tear(data)
			} else {
				kept = n
				data = append(data[:n:n], tc.tear(append([]byte(nil), data[n:]...))...)
			}
			must.NoError(t, os.WriteFile(seg, data, 0o600))

			logs := &logRecorder{}
			opts := testOptions(t)
			opts.Logger = slog.New(logs)
			s, err = Open(dir, opts)
			must.NoError(t, err)
			// The warning says where the tear starts and how long it is.
			var cut [][2]int64
			for _, r := range logs.all() {
				if r.Message == "cutting off a torn record at the end of the log" {
					var off, bytes int64
					r.Attrs(func(a slog.Attr) bool {
						switch a.Key {
						case "offset":
							off = a.Value.Int64()
						case "bytes":
							bytes = a.Value.Int64()
						}
						return true
					})
					cut = append(cut, [2]int64{off, bytes})
				}
			}
			must.Equal(t, [][2]int64{{int64(kept), int64(len(data) - kept)}}, cut, "offset and length of the cut")
			got := replayAll(t, s)
			want := []replayed{{"c/a", "kept"}}
			if tc.intact {
				want = append(want, replayed{"c/b", "torn"})
			}
			must.Equal(t, want, got)

			// The tear was cut off the file, not just skipped: once a newer
			// segment follows, a tear left in this one would be corruption.
			logRecord(t, s, Record{Key: "c/c", Delta: []byte("after")})
			must.NoError(t, s.Close())
			s = newTestStore(t, dir, testOptions(t))
			must.Equal(t, append(want, replayed{"c/c", "after"}), replayAll(t, s), "replay after a second restart")
		})
	}
}

func TestLogDamageBeforeTheEndIsCorruption(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("one")})
	must.NoError(t, s.Close())
	// Reopening starts a new segment; the damaged one is no longer the
	// newest, so its damage cannot be a torn final write.
	s, err = Open(dir, testOptions(t))
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/b", Delta: []byte("two")})
	must.NoError(t, s.Close())

	segs := segmentFiles(t, dir)
	must.True(t, len(segs) >= 2, "segments: %v", segs)
	data, err := os.ReadFile(segs[0])
	must.NoError(t, err)
	data[len(data)-1] ^= 0xff
	must.NoError(t, os.WriteFile(segs[0], data, 0o600))

	_, err = Open(dir, testOptions(t))
	var ce *CorruptError
	must.ErrorAs(t, err, &ce)
	must.Contains(t, ce.Path, segmentName(1))
}

func TestLogRejectsInvalidRecords(t *testing.T) {
	s := newTestStore(t, t.TempDir(), testOptions(t))
	big := make([]byte, MaxValueLen+1)
	for _, tc := range []struct {
		name string
		rec  Record
		want error
	}{
		{"empty key", Record{Delta: []byte("d")}, ErrInvalidKey},
		{"big delta", Record{Key: "k", Delta: big}, ErrTooLarge},
		{"result without key", Record{Key: "k", IdempotencyResult: []byte("r")}, ErrInvalidKey},
	} {
		_, err := s.Log(t.Context(), tc.rec)
		must.ErrorIs(t, err, tc.want, tc.name)
	}
	must.Equal(t, uint64(0), s.Stats().Logged, "invalid records were logged")
}

func TestLogAfterCloseAndCancelled(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions(t))
	must.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.Log(ctx, Record{Key: "k"})
	must.ErrorIs(t, err, context.Canceled)
	must.NoError(t, s.Close())
	_, err = s.Log(t.Context(), Record{Key: "k"})
	must.ErrorIs(t, err, ErrClosed)
	must.True(t, errors.Is(s.Checkpoint(t.Context(), func() map[string][]byte { return nil }), ErrClosed))
}

// TestFrameRoundTrip: a record reads back as it was written, from the
// smallest (empty fields read back nil, not empty) to the largest a
// [Record] may be (every field at its limit, the HLC and creation time at
// their longest varints), which the frame's length bound must admit.
func TestFrameRoundTrip(t *testing.T) {
	bigKey := func(c byte) string { return strings.Repeat(string(c), MaxKeyLen) }
	for _, tc := range []struct {
		name    string
		rec     Record
		created time.Time
	}{
		{"typical", Record{Key: "c/x", Delta: []byte{1, 2, 3}, HLC: 1 << 40, IdempotencyKey: "id", IdempotencyResult: []byte("{}")}, time.Unix(0, 1_700_000_000_123_456_789)},
		{"smallest", Record{Key: "k"}, time.Unix(0, 0)},
		{"largest", Record{
			Key: bigKey('k'), Delta: bytes.Repeat([]byte{0xd}, MaxValueLen), HLC: math.MaxUint64,
			IdempotencyKey: bigKey('i'), IdempotencyResult: bytes.Repeat([]byte{0xe}, MaxValueLen),
		}, time.Unix(0, math.MinInt64)},
	} {
		frame := appendFrame(nil, &tc.rec, tc.created)
		got, n, err := readFrame(frame)
		must.NoError(t, err, tc.name)
		must.Equal(t, len(frame), n, tc.name)
		must.True(t, reflect.DeepEqual(tc.rec, got.Record), "%s: read back differs", tc.name)
		must.Equal(t, tc.created.UnixNano(), got.created, tc.name)
	}
}

// TestReadFrameLengthBound: a frame whose length is at most maxPayloadLen
// is read as a record (here one that does not decode, so not a torn
// write); a longer length can only be damage.
func TestReadFrameLengthBound(t *testing.T) {
	_, _, err := readFrame(frameAround(make([]byte, maxPayloadLen)))
	must.Error(t, err)
	must.False(t, errors.Is(err, errTorn), "payload of maxPayloadLen bytes: %v", err)
	must.Contains(t, err.Error(), "version 0")
	_, _, err = readFrame(frameAround(make([]byte, maxPayloadLen+1)))
	must.ErrorIs(t, err, errTorn)
}

// TestDecodePayloadErrors: a payload that does not decode says what is
// wrong with it, the first problem found; that text reaches the operator in
// the CorruptError.
func TestDecodePayloadErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"version", []byte{2, 1, 'k', 0, 0, 0, 0, 0}, "log record version 2"},
		{"key longer than the payload", []byte{recordVersion, 9, 'k'}, "field of 9 bytes, 1 left"},
		{"key taking the rest", []byte{recordVersion, 1, 'k'}, "bad uvarint"},
		{"no creation time", []byte{recordVersion, 1, 'k', 0, 0, 0, 0}, "bad varint"},
		{"unfinished varint", []byte{recordVersion, 1, 'k', 0, 0, 0, 0x80}, "bad uvarint"},
		{"trailing bytes", []byte{recordVersion, 1, 'k', 0, 0, 0, 0, 0, 7, 7}, "2 trailing bytes"},
		{"empty key", []byte{recordVersion, 0, 0, 0, 0, 0, 0}, "invalid key"},
	} {
		_, err := decodePayload(tc.payload)
		must.Error(t, err, tc.name)
		must.Contains(t, err.Error(), tc.want, tc.name)
	}
}

// frameAround frames payload with a correct length and checksum, so that
// fuzzing reaches the payload decoder: a fuzzer cannot forge a CRC-32C.
func frameAround(payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

// FuzzReadFrame reads arbitrary bytes as a frame, and as the payload of a
// frame with a valid header, and checks that whatever decodes re-encodes
// to exactly the bytes read: the decoder accepts only what appendFrame
// writes (shortest varints, no trailing bytes), so a record has one
// encoding.
func FuzzReadFrame(f *testing.F) {
	rec := Record{Key: "c/x", Delta: []byte{1, 2, 3}, HLC: 5, IdempotencyKey: "id", IdempotencyResult: []byte("{}")}
	good := appendFrame(nil, &rec, time.Unix(0, 1))
	f.Add(good)
	f.Add(good[frameHeaderLen:])
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte{recordVersion, 1, 'k', 0, 0, 0, 0x80, 0x00, 0}) // HLC 0 in two bytes
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, frameAround(b)} {
			got, n, err := readFrame(in)
			if err != nil {
				continue
			}
			if n > len(in) {
				t.Fatalf("frame of %d bytes from %d", n, len(in))
			}
			again := appendFrame(nil, &got.Record, time.Unix(0, got.created))
			if !bytes.Equal(again, in[:n]) {
				t.Fatalf("re-encoding differs: got %x, want %x", again, in[:n])
			}
		}
	})
}

// TestReadFrameRejectsNonCanonical: a payload with a varint longer than it
// needs decodes to a record whose frame is different bytes; readFrame
// refuses it, so every record read back has exactly one encoding.
func TestReadFrameRejectsNonCanonical(t *testing.T) {
	canonical := []byte{recordVersion, 1, 'k', 0, 0, 0, 0, 0}
	_, _, err := readFrame(frameAround(canonical))
	must.NoError(t, err, "canonical payload %x", canonical)
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"key length", []byte{recordVersion, 0x81, 0x00, 'k', 0, 0, 0, 0, 0}},
		{"HLC", []byte{recordVersion, 1, 'k', 0, 0, 0, 0x80, 0x00, 0}},
		{"creation time", []byte{recordVersion, 1, 'k', 0, 0, 0, 0, 0x80, 0x00}},
		{"trailing byte", append(append([]byte(nil), canonical...), 0)},
	} {
		_, _, err := readFrame(frameAround(tc.payload))
		must.Error(t, err, "%s: payload %x", tc.name, tc.payload)
		must.False(t, errors.Is(err, errTorn), "%s: a checksummed record that does not decode is not a torn write", tc.name)
	}
}

// TestCheckpointWritesIdempotencyInCreationOrder checks the order a
// checkpoint hands logged idempotency results to bbolt: the bucket's key
// order, so that inserts append instead of shifting (quadratic in bbolt).
func TestCheckpointWritesIdempotencyInCreationOrder(t *testing.T) {
	s := newTestStore(t, t.TempDir(), testOptions(t))
	for i := range 50 {
		logRecord(t, s, Record{Key: "c/a", Delta: []byte("d"), IdempotencyKey: fmt.Sprintf("k%d", i), IdempotencyResult: []byte("r")})
	}
	segments, err := s.wal.rotate()
	must.NoError(t, err)
	logged, _ := s.wal.coveredIdem(segments)
	must.Len(t, logged, 50)
	for i := 1; i < len(logged); i++ {
		a, b := logged[i-1], logged[i]
		must.True(t, a.created < b.created || a.created == b.created && a.key < b.key,
			"entry %d (%s at %d) after %s at %d", i, b.key, b.created, a.key, a.created)
	}
}

// TestTornTailBeforeEmptySegments covers a crash after the segment with a
// torn record stopped being the newest file (a rotation, or an Open, made
// an empty one after it): the tear is still cut off, not called corruption,
// and the empty segments are deleted.
func TestTornTailBeforeEmptySegments(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("kept")})
	must.NoError(t, s.Close())
	segs := segmentFiles(t, dir)
	must.Len(t, segs, 1)
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	must.NoError(t, err)
	_, err = f.Write([]byte{0, 0, 0, 40, 1, 2}) // half a frame
	must.NoError(t, err)
	must.NoError(t, f.Close())
	for _, n := range []uint64{2, 3} {
		must.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(n)), nil, 0o600))
	}

	s = newTestStore(t, dir, testOptions(t))
	must.Equal(t, []replayed{{"c/a", "kept"}}, replayAll(t, s))
	for _, n := range []uint64{2, 3} {
		_, err := os.Stat(filepath.Join(dir, segmentName(n)))
		must.True(t, errors.Is(err, os.ErrNotExist), "empty segment %d not deleted: %v", n, err)
	}
}

// TestCheckpointRefusedAfterLogFailure: once a write to the log failed, its
// segment may end in a partial record, so it must stay the last segment
// written; a checkpoint must not start a new one.
func TestCheckpointRefusedAfterLogFailure(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, testOptions(t))
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d")})
	broken := errors.New("disk full")
	s.wal.mu.Lock()
	s.wal.err = broken
	s.wal.mu.Unlock()
	err := s.Checkpoint(t.Context(), func() map[string][]byte { return nil })
	must.ErrorIs(t, err, broken)
	must.Len(t, segmentFiles(t, dir), 1, "a checkpoint after a log failure started a segment")
	_, err = s.Log(t.Context(), Record{Key: "c/a", Delta: []byte("d")})
	must.ErrorIs(t, err, broken)
	must.ErrorIs(t, s.Err(), broken)
}

// TestLogDamageMidSegmentIsCorruption: damage followed by intact records
// is not a torn end of the log, even in the last segment written.
func TestLogDamageMidSegmentIsCorruption(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	for i := range 3 {
		logRecord(t, s, Record{Key: "c/a", Delta: []byte(fmt.Sprintf("delta-%d", i))})
	}
	must.NoError(t, s.Close())
	seg, data := onlySegment(t, dir)
	_, n, err := readFrame(data)
	must.NoError(t, err)
	data[n+frameHeaderLen+2] ^= 0xff // the second record's payload
	must.NoError(t, os.WriteFile(seg, data, 0o600))

	_, err = Open(dir, testOptions(t))
	var ce *CorruptError
	must.ErrorAs(t, err, &ce)
	must.Contains(t, err.Error(), "bytes after it")
}

// TestReplayAcrossSegmentsAndStrayFiles: records in several segments, with
// unrelated files in the directory (sorting before and after the
// segments), all come back in order.
func TestReplayAcrossSegmentsAndStrayFiles(t *testing.T) {
	dir := t.TempDir()
	for i, d := range []string{"one", "two", "three"} {
		s, err := Open(dir, testOptions(t))
		must.NoError(t, err)
		if i > 0 {
			must.Len(t, replayAll(t, s), i, "replay before logging %s", d)
		}
		logRecord(t, s, Record{Key: "c/a", Delta: []byte(d)})
		must.NoError(t, s.Close())
	}
	for _, name := range []string{"0-stray", "crdtd-notes.txt", "zz-stray"} {
		must.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	s := newTestStore(t, dir, testOptions(t))
	must.Equal(t, []replayed{{"c/a", "one"}, {"c/a", "two"}, {"c/a", "three"}}, replayAll(t, s))
}

// TestTornTailOfMaxSize: a tail of exactly maxTornTail damaged bytes is
// still a torn write, cut off; one byte more is corruption.
func TestTornTailOfMaxSize(t *testing.T) {
	must.True(t, tornTail(make([]byte, maxTornTail)), "zeroed tail of maxTornTail bytes")
	must.False(t, tornTail(make([]byte, maxTornTail+1)), "zeroed tail of maxTornTail+1 bytes")
}

// queued returns how many records wait in the log's queue.
func queued(s *Store) int {
	s.wal.mu.Lock()
	defer s.wal.mu.Unlock()
	return len(s.wal.queue)
}

// logAsync logs rec in a goroutine and returns the channel of its error.
func logAsync(tb testing.TB, s *Store, rec Record) <-chan error {
	done := make(chan error, 1)
	go func() {
		release, err := s.Log(tb.Context(), rec)
		if err == nil {
			release()
		}
		done <- err
	}()
	return done
}

func awaitLogged(tb testing.TB, done <-chan error, what string) {
	tb.Helper()
	select {
	case err := <-done:
		must.NoError(tb, err, what)
	case <-time.After(10 * time.Second):
		tb.Fatalf("%s: Log has not returned after 10s", what)
	}
}

// gatherRound logs one record and, while its sync is held, 7 more: a round
// of 8 writers. It returns the channels of the 7 and leaves the log
// waiting for the round's writers to come back.
func gatherRound(t *testing.T, s *Store, hold chan struct{}, entered <-chan struct{}) []<-chan error {
	first := logAsync(t, s, Record{Key: "c/a", Delta: []byte("a1")})
	<-entered // the first record's sync has started
	var others []<-chan error
	for i := range 7 {
		others = append(others, logAsync(t, s, Record{Key: fmt.Sprintf("c/%d", i), Delta: []byte("x")}))
	}
	must.Eventually(t, func() bool { return queued(s) == 7 }, 5*time.Second, "7 records never queued behind the held sync")
	hold <- struct{}{}
	awaitLogged(t, first, "first record")
	return others
}

// TestLogGathersTheLastRound: after a sync that acknowledged one writer
// while 7 more queued, the log waits for that writer's next record and
// syncs all 8 together, rather than syncing the 7 at once and the 8th on
// its own after them.
func TestLogGathersTheLastRound(t *testing.T) {
	opts := testOptions(t)
	opts.gatherWait = func(time.Duration) time.Duration { return time.Hour }
	hold, entered := make(chan struct{}), make(chan struct{}, 1)
	var syncs atomic.Int32
	opts.syncLog = func(f *os.File) error {
		if syncs.Add(1) == 1 {
			entered <- struct{}{}
			<-hold
		}
		return fdatasync(f)
	}
	s := newTestStore(t, t.TempDir(), opts)
	others := gatherRound(t, s, hold, entered)
	again := logAsync(t, s, Record{Key: "c/a", Delta: []byte("a2")})
	awaitLogged(t, again, "the first writer's second record")
	for i, done := range others {
		awaitLogged(t, done, fmt.Sprintf("queued record %d", i))
	}
	must.Equal(t, int32(2), syncs.Load(), "syncs for a round of 1 and then a round of 8")
	st := s.Stats()
	must.Equal(t, uint64(9), st.Logged)
	must.Equal(t, uint64(2), st.LogSyncs)
}

// TestLogGatherEndsAfterItsWait: when the last round's writers do not come
// back, the records queued are synced once the wait is over.
func TestLogGatherEndsAfterItsWait(t *testing.T) {
	opts := testOptions(t)
	var waits atomic.Int32
	opts.gatherWait = func(time.Duration) time.Duration { waits.Add(1); return 20 * time.Millisecond }
	hold, entered := make(chan struct{}), make(chan struct{}, 1)
	var syncs atomic.Int32
	opts.syncLog = func(f *os.File) error {
		if syncs.Add(1) == 1 {
			entered <- struct{}{}
			<-hold
		}
		return fdatasync(f)
	}
	s := newTestStore(t, t.TempDir(), opts)
	others := gatherRound(t, s, hold, entered)
	// The first writer does not come back: the 7 are synced after the wait.
	for i, done := range others {
		awaitLogged(t, done, fmt.Sprintf("queued record %d", i))
	}
	must.True(t, waits.Load() > 0, "the log never asked how long to wait")
	must.Equal(t, int32(2), syncs.Load())
}

// TestLogGatherDoesNotHoldALoneWriter: a writer that is the whole round
// finds nobody to wait for, however long the wait could be.
func TestLogGatherDoesNotHoldALoneWriter(t *testing.T) {
	opts := testOptions(t)
	opts.gatherWait = func(time.Duration) time.Duration { return time.Hour }
	s := newTestStore(t, t.TempDir(), opts)
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			release, err := s.Log(t.Context(), Record{Key: "c/a", Delta: fmt.Appendf(nil, "d%d", i)})
			if err != nil {
				done <- err
				return
			}
			release()
		}
		done <- nil
	}()
	awaitLogged(t, done, "20 records of one writer")
	must.Equal(t, uint64(20), s.Stats().LogSyncs)
}

// TestIdleCheckpointKeepsSegment: a checkpoint with nothing logged since
// the last one leaves the log as it is. Starting a segment creates a file
// and syncs the directory, which an idle node checkpointing on a timer
// should not pay for.
func TestIdleCheckpointKeepsSegment(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, testOptions(t))
	none := func() map[string][]byte { return nil }
	must.NoError(t, s.Checkpoint(t.Context(), none))
	must.Equal(t, []string{filepath.Join(dir, segmentName(1))}, segmentFiles(t, dir), "after an idle checkpoint")

	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d")})
	must.NoError(t, s.Checkpoint(t.Context(), none))
	must.Equal(t, []string{filepath.Join(dir, segmentName(2))}, segmentFiles(t, dir), "after folding a record")
	must.NoError(t, s.Checkpoint(t.Context(), none))
	must.Equal(t, []string{filepath.Join(dir, segmentName(2))}, segmentFiles(t, dir), "after a second, idle checkpoint")
}

// TestRepeatedCheckpoints: each checkpoint folds what was logged since the
// previous one, and forgets the segments it deleted: the log's size goes
// back to zero every time, never below.
func TestRepeatedCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, testOptions(t))
	state := map[string][]byte{}
	for i := range 3 {
		d := []byte(fmt.Sprintf("delta-%d", i))
		logRecord(t, s, Record{Key: "c/a", Delta: d})
		state["c/a"] = d
		must.True(t, s.LogBytes() > 0, "round %d: log empty after a record", i)
		must.NoError(t, s.Checkpoint(t.Context(), func() map[string][]byte { return state }))
		must.Equal(t, int64(0), s.LogBytes(), "round %d: log bytes after checkpoint", i)
		must.Len(t, segmentFiles(t, dir), 1, "round %d", i)
	}
	must.NoError(t, s.Close())
	s = newTestStore(t, dir, testOptions(t))
	must.Len(t, replayAll(t, s), 0)
	v, _, err := s.Get("c/a")
	must.NoError(t, err)
	must.Equal(t, "delta-2", string(v))
}

// TestCheckpointForgetsFoldedIdempotencyKeys: once a checkpoint has moved a
// logged idempotency key into the data file, the data file's bounds govern
// it. Pruned there for the key limit, it is gone, not still answered from
// the log's copy (nor written back by the next checkpoint).
func TestCheckpointForgetsFoldedIdempotencyKeys(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	opts := testOptions(t)
	opts.IdempotencyTTL = time.Hour
	opts.MaxIdempotencyKeys = 1
	opts.now = clock.now
	s := newTestStore(t, t.TempDir(), opts)
	none := func() map[string][]byte { return nil }

	logRecord(t, s, Record{Key: "c/a", Delta: []byte("d"), IdempotencyKey: "k1", IdempotencyResult: []byte("r1")})
	must.NoError(t, s.Checkpoint(t.Context(), none))
	clock.advance(time.Second)
	must.NoError(t, s.Commit(t.Context(), Write{IdempotencyKey: "k2", IdempotencyResult: []byte("r2")}))
	must.Equal(t, []string{"k2"}, present(t, s, "k1", "k2"), "after the key limit pruned k1")
	must.NoError(t, s.Checkpoint(t.Context(), none))
	must.Equal(t, []string{"k2"}, present(t, s, "k1", "k2"), "after another checkpoint")
}

// TestCheckpointDeletingSegments: a covered segment already gone is no
// error (a deletion that a crash interrupted, or an operator's); one that
// cannot be deleted fails the checkpoint with the first such error.
func TestCheckpointDeletingSegments(t *testing.T) {
	t.Run("already gone", func(t *testing.T) {
		dir := t.TempDir()
		s := newTestStore(t, dir, testOptions(t))
		logRecord(t, s, Record{Key: "c/a", Delta: []byte("d")})
		must.NoError(t, s.Checkpoint(t.Context(), func() map[string][]byte {
			must.NoError(t, os.Remove(filepath.Join(dir, segmentName(1))))
			return nil
		}))
		must.Equal(t, int64(0), s.LogBytes())
	})
	t.Run("undeletable", func(t *testing.T) {
		dir := t.TempDir()
		s := newTestStore(t, dir, testOptions(t))
		for i := range 2 { // two closed segments: records in 1, then 2
			logRecord(t, s, Record{Key: "c/a", Delta: []byte("d")})
			_, err := s.wal.rotate()
			must.NoError(t, err)
			must.Len(t, segmentFiles(t, dir), i+2)
		}
		err := s.Checkpoint(t.Context(), func() map[string][]byte {
			// A non-empty directory in place of each closed segment.
			for _, n := range []uint64{1, 2} {
				path := filepath.Join(dir, segmentName(n))
				must.NoError(t, os.Remove(path))
				must.NoError(t, os.MkdirAll(filepath.Join(path, "x"), 0o700))
			}
			return nil
		})
		must.Error(t, err)
		must.Contains(t, err.Error(), "delete checkpointed log segment")
		must.Contains(t, err.Error(), segmentName(1))
	})
}

// TestReadFramePrefixesAreTorn: every proper prefix of a frame is a torn
// write, whatever room the buffer has past its end, and the error says
// whether the cut fell in the header or in the payload.
func TestReadFramePrefixesAreTorn(t *testing.T) {
	rec := Record{Key: "c/x", Delta: []byte{1, 2, 3}, IdempotencyKey: "id"}
	frame := appendFrame(nil, &rec, time.Unix(0, 1))
	payload := len(frame) - frameHeaderLen
	for i := range len(frame) {
		for _, b := range [][]byte{frame[:i:i], frame[:i]} { // no capacity past the cut, and some
			_, n, err := readFrame(b)
			must.ErrorIs(t, err, errTorn, "prefix of %d bytes", i)
			must.Equal(t, 0, n)
			if i < frameHeaderLen {
				must.Contains(t, err.Error(), fmt.Sprintf("%d header bytes", i))
			} else {
				must.Contains(t, err.Error(), fmt.Sprintf("payload of %d bytes, %d left", payload, i-frameHeaderLen))
			}
		}
	}
}

// TestCheckpointFoldsSeveralSegments: a checkpoint covering a segment left
// from before a restart and the current one deletes both and takes both
// off the log's size.
func TestCheckpointFoldsSeveralSegments(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t))
	must.NoError(t, err)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("before")})
	must.NoError(t, s.Close())
	s = newTestStore(t, dir, testOptions(t))
	must.Len(t, replayAll(t, s), 1)
	logRecord(t, s, Record{Key: "c/a", Delta: []byte("after, and longer")})
	must.Len(t, segmentFiles(t, dir), 2)
	must.NoError(t, s.Checkpoint(t.Context(), func() map[string][]byte { return nil }))
	must.Equal(t, int64(0), s.LogBytes())
	must.Equal(t, []string{filepath.Join(dir, segmentName(3))}, segmentFiles(t, dir))
}
