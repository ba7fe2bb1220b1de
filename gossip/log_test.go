package gossip

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/testbin"
)

// logRecord is one line a recordingHandler saw, with the attributes of
// the loggers it came through.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recordingHandler keeps every record at or above level. Handlers derived
// by WithAttrs share its store, so a node's loggers all land in one place.
type recordingHandler struct {
	level slog.Level
	attrs []slog.Attr
	store *recordStore
}

type recordStore struct {
	mu   sync.Mutex // guards recs
	recs []logRecord
}

func newRecordingHandler(level slog.Level) *recordingHandler {
	return &recordingHandler{level: level, store: &recordStore{}}
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: make(map[string]string)}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.store.mu.Lock()
	h.store.recs = append(h.store.recs, rec)
	h.store.mu.Unlock()
	return nil
}

func (h *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *recordingHandler) WithGroup(string) slog.Handler { return h }

// records returns the records kept so far that match keep (all if nil).
func (h *recordingHandler) records(keep func(logRecord) bool) []logRecord {
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	var out []logRecord
	for _, r := range h.store.recs {
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// fakeClock is a settable clock for logLimiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLogLimiter(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	l := newLogLimiter(clk.now)
	step := func(key string, wantOK bool, wantSuppressed uint64) {
		t.Helper()
		ok, s := l.allow(key)
		if ok != wantOK || s != wantSuppressed {
			t.Fatalf("allow(%q) at %v = %v, %d; want %v, %d", key, clk.t.Unix(), ok, s, wantOK, wantSuppressed)
		}
	}
	step("a", true, 0)
	for range 5 {
		step("a", false, 0)
	}
	step("b", true, 0) // another kind has its own limit
	clk.advance(999 * time.Millisecond)
	step("a", false, 0)
	clk.advance(time.Millisecond)
	step("a", true, 6) // the next line says how many were held back
	step("a", false, 0)
	clk.advance(time.Hour)
	step("a", true, 1)

	// Past maxLogKeys kinds, new ones share one limit until old ones idle.
	l = newLogLimiter(clk.now)
	for i := range maxLogKeys {
		step(fmt.Sprint("k", i), true, 0)
	}
	step("new-1", true, 0) // the overflow kind's first line
	step("new-2", false, 0)
	step("k0", false, 0) // tracked kinds keep their own limit
	clk.advance(logKeyIdle)
	step("new-3", true, 0) // idle kinds were forgotten
	if got := len(l.keys); got > maxLogKeys+1 {
		t.Fatalf("got %d kinds tracked, want <= %d", got, maxLogKeys+1)
	}

	// Exactly full of idle kinds, a new kind makes room for itself rather
	// than joining the overflow kind.
	l = newLogLimiter(clk.now)
	for i := range maxLogKeys {
		step(fmt.Sprint("k", i), true, 0)
	}
	clk.advance(logKeyIdle)
	step("fresh", true, 0)
	if _, ok := l.keys["fresh"]; !ok || len(l.keys) != 1 {
		t.Fatalf("after a new kind in a full table of idle ones: %d kinds tracked, fresh tracked: %v; want only fresh", len(l.keys), ok)
	}
}

func TestShapeOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b string }{
		{"failed to receive: Unknown message type: 177 from=10.0.0.9:4411", "failed to receive: Unknown message type: 3 from=127.0.0.1:1"},
		{`discarding packet with unacceptable label "x\x01": from=1.2.3.4:5`, `discarding packet with unacceptable label "": from=[::1]:9`},
		{"Decrypt packet failed: No installed keys could decrypt the message from=1.2.3.4:5",
			"Decrypt packet failed: No installed keys could decrypt the message from=1.2.3.4:6 and then some more words"},
	} {
		if sa, sb := shapeOf(tc.a), shapeOf(tc.b); sa != sb {
			t.Errorf("shapeOf(%q) = %q, shapeOf(%q) = %q; want equal", tc.a, sa, tc.b, sb)
		}
	}
	if got, want := shapeOf("failed to receive: Unknown message type: 177 from=10.0.0.9:4411"),
		"failed to receive: Unknown message type: # #"; got != want {
		t.Errorf("shapeOf = %q, want %q", got, want)
	}
	if a, b := shapeOf("Decrypt packet failed: x"), shapeOf("failed to receive: x"); a == b {
		t.Errorf("different messages share shape %q", a)
	}
}

// TestMemberlistFloodLogsBounded sends a node garbage UDP packets: every
// one is counted in TransportErrors, but memberlist's error line about them
// is logged about once a second.
func TestMemberlistFloodLogsBounded(t *testing.T) {
	t.Parallel()
	h := newRecordingHandler(slog.LevelWarn)
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.Logger = slog.New(h) })
	n := c.start(0, newSetDelegate(), 0)
	conn, err := net.Dial("udp", c.addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const total = 2000
	start := time.Now()
	before := n.Stats().TransportErrors
	for sent := 0; sent < total; {
		for range 100 { // no label: memberlist discards it with an error line
			if _, err := conn.Write([]byte{0x7f, 1, 2, 3, byte(sent)}); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		waitFor(t, 10*time.Second, func() (bool, string) {
			got := n.Stats().TransportErrors - before
			return got >= uint64(sent), fmt.Sprintf("%d of %d packets counted", got, sent)
		})
	}
	elapsed := time.Since(start)
	lines := h.records(func(r logRecord) bool { return r.attrs[subsystemKey] == "memberlist" })
	t.Logf("%d garbage packets in %v: %d counted, %d memberlist lines", total, elapsed.Round(time.Millisecond),
		n.Stats().TransportErrors-before, len(lines))
	if max := 1 + int(elapsed/logInterval); len(lines) > max || len(lines) == 0 {
		t.Fatalf("got %d memberlist lines for %d packets in %v, want 1..%d", len(lines), total, elapsed, max)
	}
}

// TestRepairRejectionsLogOnce sends repair messages whose entries the
// Delegate rejects: every entry is counted, and each message gets at most
// one warning, limited to about one a second.
func TestRepairRejectionsLogOnce(t *testing.T) {
	t.Parallel()
	h := newRecordingHandler(slog.LevelWarn)
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.Logger = slog.New(h) })
	n := c.start(0, newSetDelegate(), 0)
	m := repairMsg{From: "mallory"}
	const perMsg, msgs = 10_000, 20
	for i := range perMsg {
		m.Entries = append(m.Entries, repairEntry{Key: fmt.Sprint("k", i)}) // empty state: rejected
	}
	msg := m.encode()
	d := &mlDelegate{n: n}
	start := time.Now()
	for i := range msgs {
		d.NotifyMsg(msg)
		waitFor(t, 10*time.Second, func() (bool, string) {
			got := n.Stats().MergeErrors
			return got == uint64((i+1)*perMsg), fmt.Sprintf("%d merge errors, want %d", got, (i+1)*perMsg)
		})
	}
	elapsed := time.Since(start)
	lines := h.records(nil)
	t.Logf("%d repair messages of %d rejected entries in %v: %d lines", msgs, perMsg, elapsed.Round(time.Millisecond), len(lines))
	if max := 1 + int(elapsed/logInterval); len(lines) > max || len(lines) == 0 {
		t.Fatalf("got %d lines for %d messages in %v, want 1..%d", len(lines), msgs, elapsed, max)
	}
	if r := lines[0]; r.attrs["rejected"] != fmt.Sprint(perMsg) || r.attrs["peer"] != "mallory" || r.attrs["key"] != "k0" {
		t.Fatalf("got first line %q %v, want rejected=%d peer=mallory key=k0 (the first rejected)", r.msg, r.attrs, perMsg)
	}
}

// TestMalformedLogsBounded feeds many malformed messages through NotifyMsg:
// all are counted, and the lines are bounded per message type and reason.
func TestMalformedLogsBounded(t *testing.T) {
	t.Parallel()
	h := newRecordingHandler(slog.LevelWarn)
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.Logger = slog.New(h) })
	n := c.start(0, newSetDelegate(), 0)
	d := &mlDelegate{n: n}
	const total = 10_000
	start := time.Now()
	for i := range total {
		d.NotifyMsg([]byte{byte(msgDelta), wireVersion, byte(i)}) // truncated
	}
	elapsed := time.Since(start)
	if got := n.Stats().DecodeErrors; got != total {
		t.Fatalf("got %d decode errors, want %d", got, total)
	}
	lines := h.records(nil)
	if max := 1 + int(elapsed/logInterval); len(lines) > max || len(lines) == 0 {
		t.Fatalf("got %d lines for %d malformed messages in %v, want 1..%d", len(lines), total, elapsed, max)
	}
}

// TestLogJSONKeysUnique logs through a JSON handler that already has a
// "component", as the daemon does: no line may repeat a key.
func TestLogJSONKeysUnique(t *testing.T) {
	t.Parallel()
	var buf testbin.SyncBuffer
	c := newTestCluster(t, func(_ int, cfg *Config) {
		cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "gossip")
	})
	c.grow(2)
	c.waitMembers(2, 20*time.Second)
	fromMemberlist := 0
	for line := range strings.Lines(buf.String()) {
		keys, err := jsonKeys([]byte(line))
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Fatalf("key %q twice in %s", k, line)
			}
			seen[k] = true
		}
		if strings.Contains(line, `"`+subsystemKey+`":"memberlist"`) {
			fromMemberlist++
		}
	}
	if fromMemberlist == 0 {
		t.Fatalf("no line from memberlist among:\n%s", buf.String())
	}
}

// jsonKeys returns the top-level keys of a JSON object in order.
func jsonKeys(line []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

var _ io.Writer = (*testbin.SyncBuffer)(nil)

// TestClosedConnErrorsWhileClosing: memberlist's errors about closed
// sockets are Error while the node runs and Debug once it leaves or shuts
// down.
func TestClosedConnErrorsWhileClosing(t *testing.T) {
	t.Parallel()
	line := "[ERR] memberlist: Failed to send gossip to 127.0.0.1:4000: write udp 127.0.0.1:4001->127.0.0.1:4000: use of closed network connection"
	for _, closing := range []bool{false, true} {
		h := newRecordingHandler(slog.LevelDebug)
		w := &logWriter{l: slog.New(h), closing: func() bool { return closing }}
		fmt.Fprintln(w, line)
		fmt.Fprintln(w, "[ERR] memberlist: Push/Pull with n1 failed: dial tcp: connection refused")
		recs := h.records(nil)
		want := []slog.Level{slog.LevelError, slog.LevelError}
		if closing {
			want[0] = slog.LevelDebug
		}
		if len(recs) != 2 || recs[0].level != want[0] || recs[1].level != want[1] {
			t.Errorf("closing=%v: got %v, want levels %v", closing, recs, want)
		}
	}
}

// TestCleanShutdownLogsNoError leaves and shuts down nodes of a cluster
// while they gossip: none of them logs an error.
func TestCleanShutdownLogsNoError(t *testing.T) {
	t.Parallel()
	const nodes = 4
	hs := make([]*recordingHandler, nodes)
	c := newTestCluster(t, func(i int, cfg *Config) {
		hs[i] = newRecordingHandler(slog.LevelDebug)
		cfg.Logger = slog.New(hs[i])
		cfg.Memberlist.GossipInterval = 5 * time.Millisecond
	})
	c.grow(nodes)
	c.waitMembers(nodes, 20*time.Second)
	c.writeRandom(50, 10, "w")
	c.waitConverged(20 * time.Second)
	c.net.closeDelay.Store(int64(100 * time.Millisecond))
	for i := nodes - 1; i > 0; i-- {
		// Queued broadcasts keep memberlist sending while its sockets close.
		for j := range 100 {
			c.write(i, fmt.Sprint("q", j), "x")
		}
		if err := c.nodes[i].Leave(10 * time.Second); err != nil { // a loaded machine may need more than a second
			t.Fatal(err)
		}
		if err := c.nodes[i].Shutdown(); err != nil {
			t.Fatal(err)
		}
		closedDebug := hs[i].records(func(r logRecord) bool { return strings.Contains(r.msg, "use of closed") })
		errs := hs[i].records(func(r logRecord) bool { return r.level >= slog.LevelError })
		t.Logf("node %d: %d lines, %d about closed sockets (at Debug)", i, len(hs[i].records(nil)), len(closedDebug))
		for _, r := range errs {
			t.Errorf("node %d logged an error during a clean shutdown: %s %v", i, r.msg, r.attrs)
		}
	}
}
