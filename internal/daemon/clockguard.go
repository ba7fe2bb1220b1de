package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crdtd/crdtd/crdt"
)

// errClockAhead refuses a local write whose timestamp peers would reject.
var errClockAhead = errors.New("local clock is ahead of the cluster")

// clockGuard keeps local writes from being stamped with a time peers would
// reject for clock drift. It reads the heartbeat table and is safe for
// concurrent use.
type clockGuard struct {
	clock    *nodeClock
	beats    *heartbeats
	maxDrift time.Duration
	rejected *prometheus.CounterVec

	// started is when the node started; the guard waits for peers' clocks
	// for the first three heartbeat intervals after it.
	started time.Time
	// base is Config.HeartbeatInterval; interval is the heartbeat interval
	// the node currently uses (it grows with the cluster).
	base     time.Duration
	interval func() time.Duration
	// hasSeeds is whether the node was given seeds to join; joined reports
	// whether it reached one, and alonePeers whether gossip knows no other
	// member alive.
	hasSeeds bool
	joined   func() bool
	alone    func() bool
}

// check refuses to stamp a local write that peers would reject for clock
// drift: when our hybrid clock has been carried more than the drift limit
// past physical time (a skewed clock earlier, restored from disk), or when
// every peer's fresh heartbeat says our clock is ahead by more than the
// limit. Acknowledging such a write would leave it stranded on this node
// until real time catches up.
func (g *clockGuard) check(ts crdt.Timestamp) error {
	now := g.clock.now()
	if ahead := time.Duration(ts.Wall - now.UnixNano()); ahead > g.maxDrift {
		g.rejected.WithLabelValues("local_clock_ahead").Inc()
		return fmt.Errorf("%w: the node's clock was carried %v past physical time (max drift %v); "+
			"writes resume when time catches up", errClockAhead, ahead.Round(time.Millisecond), g.maxDrift)
	}
	if ahead, ok := g.beats.clockAhead(now, 5*g.interval()); ok && ahead > g.maxDrift {
		g.rejected.WithLabelValues("local_clock_ahead").Inc()
		return fmt.Errorf("%w: peers' clocks are %v behind this node's (max drift %v); fix the clock",
			errClockAhead, ahead.Round(time.Millisecond), g.maxDrift)
	}
	return nil
}

// awaitPollInterval is how often await looks for a peer's heartbeat.
const awaitPollInterval = 20 * time.Millisecond

// await holds a local write made in the first few heartbeat intervals after
// start, until a peer's heartbeat has told us whether our clock is ahead.
// Without it, a node restarted with a skewed clock would stamp its first
// writes into the future before it could know. A node with no seeds, or
// whose peers stay silent, goes ahead once the grace period ends: writes
// must work on a node cut off from the others. So does a node that joined
// and found itself alone.
func (g *clockGuard) await(ctx context.Context) {
	if !g.hasSeeds {
		return
	}
	grace := g.started.Add(3 * g.base)
	fresh := 5 * g.base
	for time.Now().Before(grace) {
		if _, ok := g.beats.clockAhead(g.clock.now(), fresh); ok {
			return
		}
		if g.joined() && g.alone() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(awaitPollInterval):
		}
	}
}
