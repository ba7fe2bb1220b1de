package daemon

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crdtd/crdtd/crdt"
)

// nodeClock is the node's hybrid logical clock and its view of physical
// time. Every part that stamps, observes or checks a timestamp goes through
// it, so they all agree on what "now" is (fault tests shift it by
// Config.ClockOffset). It is safe for concurrent use.
type nodeClock struct {
	offset   time.Duration // added to the system clock
	maxDrift time.Duration // how far ahead a remote timestamp may be
	rejected *prometheus.CounterVec

	// mu guards hlc.
	mu  sync.Mutex
	hlc *crdt.HLC
}

func newNodeClock(hlc *crdt.HLC, offset, maxDrift time.Duration, rejected *prometheus.CounterVec) *nodeClock {
	return &nodeClock{hlc: hlc, offset: offset, maxDrift: maxDrift, rejected: rejected}
}

// now returns the node's physical time.
func (c *nodeClock) now() time.Time { return time.Now().Add(c.offset) }

// stamp returns a fresh timestamp for a local change.
func (c *nodeClock) stamp() crdt.Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hlc.Now(c.now())
}

// observe advances the clock past a remote or stored timestamp.
func (c *nodeClock) observe(ts crdt.Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hlc.Observe(ts)
}

// restore starts the clock at least at ts (the persisted high-water mark).
func (c *nodeClock) restore(ts crdt.Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hlc.Restore(ts)
}

// checkRemote rejects a remote timestamp too far in our future: merging it
// would carry our clock there, and its writes would win every
// last-writer-wins race for as long as it is ahead.
func (c *nodeClock) checkRemote(ts crdt.Timestamp) error {
	if ts.IsZero() {
		return nil
	}
	if err := crdt.CheckDrift(ts, c.now(), c.maxDrift); err != nil {
		c.rejected.WithLabelValues("clock_drift").Inc()
		return err
	}
	return nil
}
