package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The write-ahead log is a sequence of segment files in the data directory,
// crdtd-<number>.wal. Records are appended to the newest segment, many per
// write and fdatasync (group commit). A checkpoint closes the newest segment,
// writes the objects the closed segments changed into the data file, and
// deletes them. Recovery reads the segments left over and hands their
// records to the caller to merge again.
const (
	walPrefix = "crdtd-"
	walSuffix = ".wal"
	// spareName is a checkpointed segment kept for the next one to start
	// from (see recycle). It is never read: Open deletes it.
	spareName = "crdtd-spare.tmp"
)

func segmentName(n uint64) string { return fmt.Sprintf("%s%016d%s", walPrefix, n, walSuffix) }

// parseSegmentName returns the number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, walPrefix)
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, walSuffix); !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil && n > 0
}

// loggedIdem is an idempotency result that is durable in the log and not yet
// in the data file.
type loggedIdem struct {
	key     string
	result  []byte
	created int64 // unix ns
	segment uint64
}

type logRequest struct {
	frame   []byte
	rec     Record
	created int64
	state   int32  // reqPending, reqTaken or reqCancelled, under wal.mu
	segment uint64 // where the record landed, set before done is sent
	done    chan error
}

// maxPooledFrame bounds the frame buffer a recycled request keeps.
const maxPooledFrame = 4 << 10

// newRequest returns a request from w's pool of answered ones, with its
// channel and frame buffer: every local write needs one.
func (w *wal) newRequest() *logRequest {
	if req, ok := w.requests.Get().(*logRequest); ok {
		return req
	}
	return &logRequest{done: make(chan error, 1)}
}

// putRequest returns req to w's pool. Only its writer may call it, once the
// appender has answered req (a cancelled request, which the appender may
// still hold, is never recycled).
func (w *wal) putRequest(req *logRequest) {
	req.rec = Record{}
	if cap(req.frame) > maxPooledFrame {
		req.frame = nil
	}
	req.frame = req.frame[:0]
	req.state = reqPending
	w.requests.Put(req)
}

// wal is the write-ahead log. Its appender goroutine writes queued records.
type wal struct {
	dir     string
	noSync  bool
	sync    func(*os.File) error // fdatasync, unless a test replaces it
	syncDir func(string) error   // fsync of dir, unless a test replaces it
	logger  *slog.Logger

	// fileMu is held by the appender while it writes and syncs a batch,
	// and by rotate, so that a segment is never switched mid-batch.
	fileMu   sync.Mutex
	file     *os.File
	segment  uint64 // number of file
	segBytes int64  // bytes in file
	segCount int    // records in file
	batchBuf []byte // reused by the appender for each batch's frames

	// mu guards the fields below.
	mu       sync.Mutex
	queue    []*logRequest
	closed   []closedSegment // older segments, awaiting a checkpoint
	inflight map[uint64]int  // records logged and not yet released, by segment
	released *sync.Cond      // signalled when inflight drops
	idem     map[string]loggedIdem
	maxHLC   uint64
	err      error // sticky: a failed write or sync ends the log
	stopped  bool
	spare    bool // spareName holds a zeroed, synced file (see recycle)

	// want is how many queued records wake the appender while it gathers
	// a batch (0: the first one does).
	want int

	// Owned by the appender goroutine (see gather).
	expect     int                               // writers of the last batch and those queued while it synced
	lastSync   time.Duration                     // how long the last batch's write and sync took
	gatherWait func(time.Duration) time.Duration // the wait after a sync of the given length

	// requests recycles answered logRequests (one per w: a channel must
	// not leave the synctest bubble of a test's store).
	requests sync.Pool

	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	stats *statsRecorder

	// pending is the size of the segments not yet checkpointed; every local
	// write reads it (Store.LogBytes), so it needs no lock.
	pending atomic.Int64
}

// closedSegment is a segment no longer appended to, and its size.
type closedSegment struct {
	n    uint64
	size int64
}

// errLogStopped answers appends after Close.
var errLogStopped = errors.New("log closed")

// openWAL reads the segments in dir, returning their records in log
// order, cuts off a torn record at the end of the last segment written,
// deletes empty segments, and starts a new segment for appends.
func openWAL(dir string, noSync bool, syncFile func(*os.File) error, gatherWait func(time.Duration) time.Duration,
	syncDirectory func(string) error, logger *slog.Logger, stats *statsRecorder) (*wal, []loggedRecord, error) {
	w := &wal{
		dir: dir, noSync: noSync, sync: syncFile, gatherWait: gatherWait, syncDir: syncDirectory, logger: logger, stats: stats,
		inflight: make(map[uint64]int),
		idem:     make(map[string]loggedIdem),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	w.released = sync.NewCond(&w.mu)
	// A spare left by the last run may be half zeroed: it is not trusted.
	if err := os.Remove(filepath.Join(dir, spareName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("delete spare log segment: %v", err)
	}
	segments, err := listSegments(dir)
	if err != nil {
		return nil, nil, err
	}
	// Segments left empty (created, then the node stopped before a write)
	// hold nothing but zeros, if anything: delete them, so that they
	// neither pile up nor hide which segment was written last.
	var written []uint64
	for _, seg := range segments {
		path := filepath.Join(dir, segmentName(seg.n))
		empty, err := zeroFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read log segment: %v", err)
		}
		if !empty {
			written = append(written, seg.n)
		} else if err := os.Remove(path); err != nil {
			return nil, nil, fmt.Errorf("delete empty log segment: %v", err)
		}
	}
	var records []loggedRecord
	for i, n := range written {
		recs, size, err := w.readSegment(n, i == len(written)-1)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range recs {
			w.noteDurable(&r.Record, r.created, n)
		}
		records = append(records, recs...)
		w.closed = append(w.closed, closedSegment{n: n, size: size})
		w.pending.Add(size)
	}
	next := uint64(1)
	if len(segments) > 0 {
		next = segments[len(segments)-1].n + 1
	}
	if err := w.startSegment(next); err != nil {
		return nil, nil, err
	}
	go w.run()
	return w, records, nil
}

// listSegments returns the segment files in dir, in log order.
func listSegments(dir string) ([]closedSegment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read log directory: %v", err)
	}
	var segments []closedSegment
	for _, e := range entries {
		n, ok := parseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("read log directory: %v", err)
		}
		segments = append(segments, closedSegment{n: n, size: info.Size()})
	}
	slices.SortFunc(segments, func(a, b closedSegment) int { return cmp.Compare(a.n, b.n) })
	return segments, nil
}

// readSegment returns the records of segment n and its size. A damaged
// record ends the last segment written to (the write it belonged to was
// never acknowledged) and is cut off; anywhere else it is corruption.
func (w *wal) readSegment(n uint64, newest bool) ([]loggedRecord, int64, error) {
	path := filepath.Join(w.dir, segmentName(n))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read log segment: %v", err)
	}
	var recs []loggedRecord
	off := 0
	for off < len(data) {
		rec, size, err := readFrame(data[off:])
		if err == nil {
			recs = append(recs, rec)
			off += size
			continue
		}
		rest := bytes.TrimRight(data[off:], "\x00")
		if len(rest) == 0 {
			break // the zeroed space of a recycled segment, past its last record
		}
		if !errors.Is(err, errTorn) || !newest {
			return nil, 0, &CorruptError{Path: path, Err: fmt.Errorf("record at offset %d: %w", off, err)}
		}
		if !tornTail(rest) {
			return nil, 0, &CorruptError{Path: path, Err: fmt.Errorf("damaged record at offset %d with %d bytes after it: %w", off, len(rest), err)}
		}
		w.logger.Warn("cutting off a torn record at the end of the log", "path", path, "offset", off, "bytes", len(data)-off, "err", err)
		if err := w.truncateDurably(path, int64(off)); err != nil {
			return nil, 0, fmt.Errorf("cut torn log segment %s: %v", path, err)
		}
		break
	}
	return recs, int64(off), nil
}

// zeroFile reports whether the file at path holds nothing but zero bytes
// (or nothing at all).
func zeroFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if !allZero(buf[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// allZero reports whether b holds nothing but zero bytes.
func allZero(b []byte) bool { return len(bytes.TrimLeft(b, "\x00")) == 0 }

// maxTornTail bounds what a crash can leave half written at the end of the
// log, zeros after it not counted: one batch, which is far smaller in
// practice.
const maxTornTail = 4 << 20

// tornTail reports whether rest, which starts with a damaged frame, can be
// what a crash left of the last batch: not too long, and holding no intact
// record after the damage (an intact record means bytes were damaged in the
// middle of the log, not cut off at its end).
func tornTail(rest []byte) bool {
	if len(rest) > maxTornTail {
		return false
	}
	for i := 1; i+frameHeaderLen < len(rest); i++ {
		if _, _, err := readFrame(rest[i:]); err == nil {
			return false
		}
	}
	return true
}

// truncateDurably cuts the segment at path to size and syncs it, so that a
// crash cannot bring the cut-off bytes back behind a newer segment.
// fdatasync suffices: it flushes the new size.
func (w *wal) truncateDurably(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil && !w.noSync {
		err = w.sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// startSegment creates segment n and makes it the one appended to. The
// caller holds fileMu, or is the only user of w.
func (w *wal) startSegment(n uint64) error {
	path := filepath.Join(w.dir, segmentName(n))
	f := w.takeSpare(path)
	if f == nil {
		var err error
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
			return fmt.Errorf("create log segment: %v", err)
		}
	}
	if !w.noSync {
		// The new file's name must be durable before records in it are
		// acknowledged.
		if err := w.syncDir(w.dir); err != nil {
			_ = f.Close()
			_ = os.Remove(path) // or the next attempt finds it and fails
			return fmt.Errorf("create log segment: sync %s: %v", w.dir, err)
		}
	}
	w.file, w.segment, w.segBytes, w.segCount = f, n, 0, 0
	return nil
}

// takeSpare gives the spare the name path and opens it for writing, or
// returns nil if there is no spare or it cannot be used (it is then
// deleted, and the caller creates a segment of its own). A link, unlike a
// rename, never replaces a file already at path. The caller syncs the
// directory.
func (w *wal) takeSpare(path string) *os.File {
	w.mu.Lock()
	ready := w.spare
	w.spare = false
	w.mu.Unlock()
	if !ready {
		return nil
	}
	spare := filepath.Join(w.dir, spareName)
	defer os.Remove(spare)
	if err := os.Link(spare, path); err != nil {
		w.logger.Warn("cannot reuse the spare log segment; creating one", "err", err)
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		w.logger.Warn("cannot reuse the spare log segment; creating one", "err", err)
		_ = os.Remove(path)
		return nil
	}
	return f
}

// recycle keeps a checkpointed segment of size bytes of records as the
// spare the next segment starts from, instead of deleting it. Records
// written over a file's existing, zeroed bytes need no change to its size
// or block map, so their fdatasync writes the data alone, skipping the
// filesystem's journal commit that appending to a file costs (about half
// of each sync's CPU on ext4: BenchmarkSegmentSync). The segment is
// renamed first and the rename made durable, so that a crash cannot bring
// it back half zeroed; then the bytes its records took are zeroed (the
// rest already is) and synced. On error the file is deleted, as it would
// have been.
func (w *wal) recycle(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0) // a regular file: what the spare must be
	if err != nil {
		return err
	}
	spare := filepath.Join(w.dir, spareName)
	if err = os.Rename(path, spare); err == nil {
		if err = w.zero(f, size); err != nil {
			_ = os.Remove(spare)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.spare = true
	w.mu.Unlock()
	return nil
}

// zeros is what recycle writes over a spare's records.
var zeros [64 << 10]byte

// zero makes the spare's rename durable, then writes zeros over the first
// size bytes of f, the spare, and syncs them.
func (w *wal) zero(f *os.File, size int64) error {
	if err := w.syncDir(w.dir); err != nil {
		return err
	}
	var err error
	for off := int64(0); off < size && err == nil; off += int64(len(zeros)) {
		_, err = f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off)
	}
	if err != nil {
		return err
	}
	return w.sync(f)
}

// noteDurable records what a durable record means for lookups before the
// next checkpoint. The caller holds mu, or is the only user of w.
func (w *wal) noteDurable(r *Record, created int64, segment uint64) {
	w.maxHLC = max(w.maxHLC, r.HLC)
	if r.IdempotencyKey != "" {
		w.idem[r.IdempotencyKey] = loggedIdem{key: r.IdempotencyKey, result: r.IdempotencyResult, created: created, segment: segment}
	}
}

// append logs r durably. On success the caller must call release once the
// change is applied wherever checkpoints read it from: a checkpoint of
// r's segment waits for that.
func (w *wal) append(ctx context.Context, r *Record, now time.Time) (release func(), err error) {
	req := w.newRequest()
	req.rec, req.created = *r, now.UnixNano()
	req.frame = appendFrame(req.frame, r, now)
	w.mu.Lock()
	switch {
	case w.err != nil:
		err = w.err
	case w.stopped:
		err = errLogStopped
	}
	if err != nil {
		w.mu.Unlock()
		w.putRequest(req)
		return nil, err
	}
	w.queue = append(w.queue, req)
	wake := len(w.queue) >= w.want
	w.mu.Unlock()
	if wake {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}

	select {
	case err = <-req.done:
	case <-ctx.Done():
		w.mu.Lock()
		if req.state == reqPending {
			req.state = reqCancelled
			w.mu.Unlock()
			return nil, ctx.Err()
		}
		w.mu.Unlock()
		err = <-req.done
	}
	segment := req.segment
	w.putRequest(req)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { w.release(segment) }) }, nil
}

func (w *wal) release(segment uint64) {
	w.mu.Lock()
	w.inflight[segment]--
	if w.inflight[segment] == 0 {
		delete(w.inflight, segment)
		w.released.Broadcast()
	}
	w.mu.Unlock()
}

// run is the appender goroutine.
func (w *wal) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			w.appendQueued()
			return
		}
		w.gather(timer)
		w.appendQueued()
	}
}

// maxGatherWait bounds how long gather holds the records queued already,
// should a sync have taken much longer than usual (a stalled disk).
const maxGatherWait = 5 * time.Millisecond

// defaultGatherWait is the gather wait after a sync that took last: as
// long as that sync, at most maxGatherWait.
func defaultGatherWait(last time.Duration) time.Duration { return min(last, maxGatherWait) }

// gather waits, before a batch is written, until as many records are
// queued as there were writers in the last round (the last batch, and the
// records queued while it synced), for at most as long as the last sync
// took. The writers the last sync acknowledged are typically back with
// their next record well within a sync; without the wait the first of
// them would start a sync of its own, and the others would wait for it
// and then sync again: batches halve and every write waits for two syncs.
// The wait costs those already queued at most one sync, and a lone writer
// nothing (it is the whole round).
func (w *wal) gather(timer *time.Timer) {
	wait := w.gatherWait(w.lastSync)
	if w.expect <= 1 || wait <= 0 {
		return
	}
	w.mu.Lock()
	if len(w.queue) >= w.expect {
		w.mu.Unlock()
		return
	}
	w.want = w.expect
	w.mu.Unlock()
	timer.Reset(wait)
wait:
	for {
		select {
		case <-w.wake:
			w.mu.Lock()
			full := len(w.queue) >= w.want
			w.mu.Unlock()
			if full {
				break wait
			}
		case <-timer.C:
			break wait
		case <-w.stop:
			break wait
		}
	}
	timer.Stop()
	w.mu.Lock()
	w.want = 0
	w.mu.Unlock()
}

// appendQueued writes every queued record in one write and one sync.
func (w *wal) appendQueued() {
	w.mu.Lock()
	batch := w.queue[:0:0]
	for _, req := range w.queue {
		if req.state == reqPending {
			req.state = reqTaken
			batch = append(batch, req)
		}
	}
	w.queue = nil
	fail := w.err
	w.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if fail != nil {
		for _, req := range batch {
			req.done <- fail
		}
		return
	}

	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	buf := w.batchBuf[:0]
	for _, req := range batch {
		buf = append(buf, req.frame...)
	}
	if cap(buf) <= 1<<20 {
		w.batchBuf = buf // keep a typical batch's buffer, not a huge one
	}
	start := time.Now()
	err := w.writeAndSync(buf)
	elapsed := time.Since(start)

	if err != nil {
		err = fmt.Errorf("%w: append to log segment %s: %v", ErrLogFailed, segmentName(w.segment), err)
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		w.logger.Error("write-ahead log failed; the node must be restarted", "records", len(batch), "err", err)
		w.cutFailedBatch()
		for _, req := range batch {
			req.done <- err
		}
		return
	}
	w.mu.Lock()
	w.segBytes += int64(len(buf))
	w.segCount += len(batch)
	w.pending.Add(int64(len(buf)))
	w.inflight[w.segment] += len(batch)
	for _, req := range batch {
		w.noteDurable(&req.rec, req.created, w.segment)
		req.segment = w.segment
	}
	w.expect, w.lastSync = len(batch)+len(w.queue), elapsed
	w.mu.Unlock()
	w.stats.recordLog(len(batch), len(buf), elapsed)
	for _, req := range batch {
		req.done <- nil
	}
}

func (w *wal) writeAndSync(b []byte) error {
	if _, err := w.file.WriteAt(b, w.segBytes); err != nil {
		return err
	}
	if w.noSync {
		return nil
	}
	return w.sync(w.file)
}

// cutFailedBatch cuts the segment back to its last acknowledged record
// after a write or sync of a batch failed, so that a restart does not
// replay changes whose Log returned an error: their callers were told they
// did not happen. It is best effort (the disk is failing); if the cut does
// not reach the disk, recovery still finds either whole records or a torn
// tail. The caller holds fileMu.
func (w *wal) cutFailedBatch() {
	err := w.file.Truncate(w.segBytes)
	if err == nil && !w.noSync {
		err = w.sync(w.file)
	}
	if err != nil {
		w.logger.Error("cannot cut failed records off the write-ahead log; a restart may replay them", "path", filepath.Join(w.dir, segmentName(w.segment)), "err", err)
	}
}

// rotate starts a new segment if the current one holds records, and
// returns every segment a checkpoint may now cover, after waiting until
// each of their records has been released.
func (w *wal) rotate() ([]closedSegment, error) {
	w.fileMu.Lock()
	w.mu.Lock()
	failed := w.err
	w.mu.Unlock()
	if failed != nil {
		// The current segment may end in a partial record: it must stay
		// the last one written, where recovery cuts such a record off.
		w.fileMu.Unlock()
		return nil, failed
	}
	if w.segCount > 0 {
		old := closedSegment{n: w.segment, size: w.segBytes}
		oldFile := w.file
		if err := w.startSegment(w.segment + 1); err != nil {
			w.fileMu.Unlock()
			return nil, err
		}
		_ = oldFile.Close() // every record in it was synced before it was acknowledged
		w.mu.Lock()
		w.closed = append(w.closed, old)
		w.mu.Unlock()
	}
	w.fileMu.Unlock()

	w.mu.Lock()
	defer w.mu.Unlock()
	segments := slices.Clone(w.closed)
	for _, seg := range segments {
		for w.inflight[seg.n] > 0 {
			w.released.Wait()
		}
	}
	return segments, nil
}

// lastSegment returns the highest segment number in segments, 0 if none.
func lastSegment(segments []closedSegment) uint64 {
	var last uint64
	for _, seg := range segments {
		last = max(last, seg.n)
	}
	return last
}

// coveredIdem returns the idempotency results logged in segments, for the
// checkpoint that covers them, and the highest HLC logged so far.
func (w *wal) coveredIdem(segments []closedSegment) ([]loggedIdem, uint64) {
	last := lastSegment(segments)
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []loggedIdem
	for _, e := range w.idem {
		if e.segment <= last {
			out = append(out, e)
		}
	}
	// In creation order, the order of the idempotency bucket's keys: bbolt
	// then appends each to the end of a node, where keys in map order would
	// land anywhere and make every insert shift the node's other entries
	// (quadratic: a 54,000-entry replay took 6 s instead of a fraction).
	slices.SortFunc(out, func(a, b loggedIdem) int {
		return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.key, b.key))
	})
	return out, w.maxHLC
}

// drop deletes segments after a checkpoint covered them, with the
// idempotency results only they held.
func (w *wal) drop(segments []closedSegment) error {
	if len(segments) == 0 {
		return nil
	}
	last := lastSegment(segments)
	w.mu.Lock()
	keep := !w.spare && !w.noSync // a spare only saves syncs
	w.mu.Unlock()
	largest := slices.MaxFunc(segments, func(a, b closedSegment) int { return cmp.Compare(a.size, b.size) })
	var firstErr error
	var size int64
	for _, seg := range segments {
		size += seg.size
		path := filepath.Join(w.dir, segmentName(seg.n))
		if keep && seg.n == largest.n {
			err := w.recycle(path, seg.size)
			if err == nil {
				continue
			}
			w.logger.Warn("cannot keep a checkpointed log segment for reuse; deleting it", "path", path, "err", err)
		}
		// A deletion lost in a crash only means the segment is merged
		// again at the next start, which changes nothing.
		err := os.Remove(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) && firstErr == nil {
			firstErr = fmt.Errorf("delete checkpointed log segment: %v", err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = slices.DeleteFunc(w.closed, func(seg closedSegment) bool { return seg.n <= last })
	for k, e := range w.idem {
		if e.segment <= last {
			delete(w.idem, k)
		}
	}
	w.pending.Add(-size)
	return firstErr
}

// lookupIdem returns a result logged and not yet checkpointed.
func (w *wal) lookupIdem(key string, cutoff int64) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.idem[key]
	if !ok || e.created < cutoff {
		return nil, false
	}
	return bytes.Clone(e.result), true
}

// hlc returns the highest HLC logged.
func (w *wal) hlc() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxHLC
}

// pendingBytes returns the size of the segments not yet checkpointed.
func (w *wal) pendingBytes() int64 { return w.pending.Load() }

// close appends what is queued, stops the appender and closes the segment.
func (w *wal) close() error {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	return w.file.Close()
}
