package gossip

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// TestNumNodes: a node counts the members memberlist knows.
func TestNumNodes(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, nil)
	c.grow(3)
	c.waitMembers(3, 20*time.Second)
	waitFor(t, 20*time.Second, func() (bool, string) {
		return c.nodes[0].numNodes() == 3, "node 0 does not count 3 members"
	})
}

// TestNameConflictReported: a node that hears of another node alive under
// its own name at another address reports it to Config.NameConflict.
func TestNameConflictReported(t *testing.T) {
	t.Parallel()
	var reports atomic.Int32
	c := newTestCluster(t, func(i int, cfg *Config) {
		if i == 0 {
			cfg.NameConflict = func(ours, theirs string) { reports.Add(1) }
		}
	})
	first := c.start(0, newSetDelegate(), 0)
	c2 := newTestCluster(t, func(_ int, cfg *Config) { cfg.Name = first.cfg.Name })
	c2.label, c2.net = c.label, c.net // the same cluster, another process under the same name
	twin := c2.start(0, newSetDelegate(), 0)
	go func() { _, _ = twin.Join(t.Context(), []string{c.addr(0)}) }()
	waitFor(t, 20*time.Second, func() (bool, string) {
		return reports.Load() > 0, "no name conflict reported"
	})
}

// TestDigestLoadLogsKeys: the line that says the digest is loaded counts
// the keys it holds.
func TestDigestLoadLogsKeys(t *testing.T) {
	t.Parallel()
	h := newRecordingHandler(slog.LevelInfo)
	c := newTestCluster(t, func(_ int, cfg *Config) { cfg.Logger = slog.New(h) })
	d := newSetDelegate()
	for _, k := range []string{"a", "b", "c"} {
		d.add(k, "x")
	}
	c.start(0, d, 0)
	// The digest loads in the background: wait for its line, then check it.
	loaded := func(r logRecord) bool { return r.msg == "anti-entropy digest loaded" }
	waitFor(t, 20*time.Second, func() (bool, string) {
		return len(h.records(loaded)) > 0, "no digest load line"
	})
	if lines := h.records(loaded); len(lines) != 1 || lines[0].attrs["keys"] != "3" {
		t.Fatalf("digest load lines %+v, want one with keys=3", lines)
	}
}
