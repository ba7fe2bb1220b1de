package daemon

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crdtd/crdtd/crdt"
)

// guardFixture is a clock guard over a fresh heartbeat table, with the
// node's join state under the test's control.
type guardFixture struct {
	guard  *clockGuard
	beats  *heartbeats
	joined atomic.Bool
	alone  atomic.Bool
}

func newGuardFixture(t *testing.T, seeds bool) *guardFixture {
	t.Helper()
	const base = time.Second
	m := newMetrics()
	hlc, err := crdt.NewHLC("node-a")
	if err != nil {
		t.Fatal(err)
	}
	clock := newNodeClock(hlc, 0, time.Minute, m.rejected)
	f := &guardFixture{beats: newHeartbeats("node-a", clock, m, nil)}
	f.guard = &clockGuard{
		clock: clock, beats: f.beats, maxDrift: time.Minute, rejected: m.rejected,
		started: time.Now(), base: base, interval: func() time.Duration { return base },
		hasSeeds: seeds, joined: f.joined.Load, alone: f.alone.Load,
	}
	return f
}

// peerBeat merges a heartbeat of replica made at wall time at.
func (f *guardFixture) peerBeat(t *testing.T, replica crdt.ReplicaID, at time.Time) {
	t.Helper()
	if _, err := f.beats.merge(string(replica), beatAt(t, replica, at)); err != nil {
		t.Fatalf("merge heartbeat: %v", err)
	}
}

// startAwait runs await in the background and returns a flag set when it
// returns.
func (f *guardFixture) startAwait(ctx context.Context) *atomic.Bool {
	var done atomic.Bool
	go func() {
		f.guard.await(ctx)
		done.Store(true)
	}()
	return &done
}

func TestClockGuardAwait(t *testing.T) {
	t.Run("no seeds: never waits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newGuardFixture(t, false)
			done := f.startAwait(t.Context())
			synctest.Wait()
			if !done.Load() {
				t.Fatal("await blocked on a node without seeds")
			}
		})
	})
	t.Run("silent peers: waits out the grace period", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newGuardFixture(t, true)
			done := f.startAwait(t.Context())
			time.Sleep(3*time.Second - 2*awaitPollInterval)
			synctest.Wait()
			if done.Load() {
				t.Fatal("await returned before the grace period of 3 heartbeat intervals ended")
			}
			time.Sleep(3 * awaitPollInterval)
			synctest.Wait()
			if !done.Load() {
				t.Fatal("await still waiting after the grace period")
			}
		})
	})
	t.Run("a peer's heartbeat ends the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newGuardFixture(t, true)
			done := f.startAwait(t.Context())
			time.Sleep(500 * time.Millisecond)
			synctest.Wait()
			if done.Load() {
				t.Fatal("await returned before any peer spoke")
			}
			f.peerBeat(t, "node-b", time.Now())
			time.Sleep(awaitPollInterval)
			synctest.Wait()
			if !done.Load() {
				t.Fatal("await still waiting one poll after a fresh peer heartbeat")
			}
		})
	})
	t.Run("joined and alone: no one to wait for", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newGuardFixture(t, true)
			f.joined.Store(true)
			done := f.startAwait(t.Context())
			time.Sleep(500 * time.Millisecond)
			synctest.Wait()
			if done.Load() {
				t.Fatal("await returned while gossip still knows a live peer")
			}
			f.alone.Store(true)
			time.Sleep(awaitPollInterval)
			synctest.Wait()
			if !done.Load() {
				t.Fatal("await still waiting one poll after the node found itself alone")
			}
		})
	})
	t.Run("cancelled request stops waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newGuardFixture(t, true)
			ctx, cancel := context.WithCancel(t.Context())
			done := f.startAwait(ctx)
			synctest.Wait()
			cancel()
			synctest.Wait()
			if !done.Load() {
				t.Fatal("await ignored its context")
			}
		})
	})
}

func TestClockGuardCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newGuardFixture(t, true)
		now := time.Now()
		if err := f.guard.check(crdt.Timestamp{Wall: now.UnixNano(), Replica: "node-a"}); err != nil {
			t.Fatalf("check of a timestamp at physical time: got %v, want nil", err)
		}
		if err := f.guard.check(crdt.Timestamp{Wall: now.Add(2 * time.Minute).UnixNano(), Replica: "node-a"}); err == nil {
			t.Fatal("check of a timestamp 2 min past physical time (max drift 1 min): got nil, want errClockAhead")
		}
		// Every fresh peer beat is 90 s old here: our clock runs 90 s ahead.
		f.peerBeat(t, "node-b", now.Add(-90*time.Second))
		if err := f.guard.check(crdt.Timestamp{Wall: now.UnixNano(), Replica: "node-a"}); err == nil {
			t.Fatal("check with every peer 90 s behind: got nil, want errClockAhead")
		}
		// A closer peer says our clock is fine.
		f.peerBeat(t, "node-c", now.Add(-time.Second))
		if err := f.guard.check(crdt.Timestamp{Wall: now.UnixNano(), Replica: "node-a"}); err != nil {
			t.Fatalf("check with one peer 1 s behind: got %v, want nil", err)
		}
	})
}

// TestClockGuardCheckAtMaxDrift: a clock exactly MaxDrift ahead, by its
// own timestamps or by its peers' beats, is still accepted; a nanosecond
// more is refused.
func TestClockGuardCheckAtMaxDrift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newGuardFixture(t, true)
		now := time.Now()
		at := func(d time.Duration) crdt.Timestamp {
			return crdt.Timestamp{Wall: now.Add(d).UnixNano(), Replica: "node-a"}
		}
		if err := f.guard.check(at(time.Minute)); err != nil {
			t.Fatalf("timestamp exactly max drift ahead: got %v, want nil", err)
		}
		if err := f.guard.check(at(time.Minute + time.Nanosecond)); err == nil {
			t.Fatal("timestamp 1ns more than max drift ahead: got nil, want errClockAhead")
		}

		f.peerBeat(t, "node-b", now.Add(-time.Minute))
		if err := f.guard.check(at(0)); err != nil {
			t.Fatalf("peers exactly max drift behind: got %v, want nil", err)
		}
		g := newGuardFixture(t, true)
		g.peerBeat(t, "node-b", now.Add(-time.Minute-time.Nanosecond))
		if err := g.guard.check(at(0)); err == nil {
			t.Fatal("peers 1ns more than max drift behind: got nil, want errClockAhead")
		}
	})
}

// TestForgedHeartbeatCannotStopWrites: a beat whose value (an old wall
// time) disagrees with its fresh timestamp is refused, so it cannot make
// the guard think our clock runs ahead and refuse writes.
func TestForgedHeartbeatCannotStopWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newGuardFixture(t, true)
		now := time.Now()
		f.peerBeat(t, "node-b", now) // an honest peer, in step with us

		hlc, err := crdt.NewHLC("node-b")
		if err != nil {
			t.Fatal(err)
		}
		ts := hlc.Now(now.Add(55 * time.Second)) // wins the register
		var reg crdt.LWWRegister[int64]
		forged, err := reg.Set(ts, now.Add(-10*time.Minute).UnixNano()).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.beats.merge("node-b", forged); err == nil {
			t.Fatal("merge of a beat whose value disagrees with its timestamp: got nil error")
		}
		if err := f.guard.check(crdt.Timestamp{Wall: now.UnixNano(), Replica: "node-a"}); err != nil {
			t.Fatalf("check after a forged beat: got %v, want nil", err)
		}
	})
}
