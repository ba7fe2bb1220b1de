package crdt

import (
	"cmp"
	"fmt"
	"math"
	"time"
)

// Timestamp is a hybrid logical clock reading: wall-clock nanoseconds, a
// logical counter that orders events within one wall-clock value, and the
// replica that produced it as the final tie-break.
//
// Timestamps are totally ordered by [Timestamp.Compare], and the order
// respects causality: if event a happened before event b (b's replica had
// observed a's timestamp), then a < b. Two distinct events never compare
// equal, because a replica never issues the same reading twice.
type Timestamp struct {
	Wall    int64     // nanoseconds since the Unix epoch
	Logical uint32    // counter within Wall
	Replica ReplicaID // issuing replica; breaks ties between concurrent events
}

// Compare returns -1, 0 or +1 as t is before, equal to or after u.
func (t Timestamp) Compare(u Timestamp) int {
	if c := cmp.Compare(t.Wall, u.Wall); c != 0 {
		return c
	}
	if c := cmp.Compare(t.Logical, u.Logical); c != 0 {
		return c
	}
	return cmp.Compare(t.Replica, u.Replica)
}

// After reports whether t is ordered after u.
func (t Timestamp) After(u Timestamp) bool { return t.Compare(u) > 0 }

// IsZero reports whether t is the zero Timestamp.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

// Time returns the wall-clock part of t.
func (t Timestamp) Time() time.Time { return time.Unix(0, t.Wall) }

// String formats t for logs and errors.
func (t Timestamp) String() string {
	return fmt.Sprintf("%d.%d@%s", t.Wall, t.Logical, t.Replica)
}

// HLC is a hybrid logical clock (Kulkarni et al., "Logical Physical Clocks",
// 2014). Its readings stay close to physical time, never go backwards, and
// advance past every timestamp the replica has observed, so a write made
// after seeing another is ordered after it even when the wall clocks of the
// two machines disagree.
//
// Physical time is always passed in: the clock never reads the system time,
// which keeps it deterministic under test. An HLC is not safe for concurrent
// use.
type HLC struct {
	replica ReplicaID
	wall    int64
	logical uint32
}

// NewHLC returns a clock for replica id, starting at zero.
func NewHLC(id ReplicaID) (*HLC, error) {
	if err := validReplicaID(string(id)); err != nil {
		return nil, err
	}
	return &HLC{replica: id}, nil
}

// Now returns a new timestamp for a local event, given the current physical
// time. The result is greater than every timestamp this clock issued or
// observed before.
func (h *HLC) Now(physical time.Time) Timestamp {
	pt := physical.UnixNano()
	if pt > h.wall {
		h.wall, h.logical = pt, 0
	} else {
		h.tick()
	}
	return Timestamp{Wall: h.wall, Logical: h.logical, Replica: h.replica}
}

// tick advances the logical counter, carrying into the wall component when
// the counter is exhausted so the clock never wraps.
func (h *HLC) tick() {
	if h.logical == math.MaxUint32 {
		h.wall++
		h.logical = 0
		return
	}
	h.logical++
}

// Observe advances the clock past a remote timestamp, so that the next
// reading from Now is ordered after it. Callers decide beforehand whether the
// remote timestamp is plausible; see [CheckDrift].
func (h *HLC) Observe(remote Timestamp) {
	switch {
	case remote.Wall > h.wall:
		h.wall, h.logical = remote.Wall, remote.Logical
	case remote.Wall == h.wall && remote.Logical > h.logical:
		h.logical = remote.Logical
	}
}

// Last returns the most recent reading the clock issued or observed, with
// this clock's replica. A daemon persists it as a high-water mark and passes
// it to [HLC.Restore] after a restart.
func (h *HLC) Last() Timestamp {
	return Timestamp{Wall: h.wall, Logical: h.logical, Replica: h.replica}
}

// Restore raises the clock to at least t, as after a restart.
func (h *HLC) Restore(t Timestamp) { h.Observe(t) }

// DriftError reports a remote timestamp further ahead of local physical time
// than the allowed drift.
type DriftError struct {
	Remote   Timestamp
	Ahead    time.Duration
	MaxDrift time.Duration
}

// Error implements error.
func (e *DriftError) Error() string {
	return fmt.Sprintf("timestamp %v is %v ahead of local time (max drift %v)", e.Remote, e.Ahead, e.MaxDrift)
}

// CheckDrift returns a *DriftError when remote is more than maxDrift ahead of
// physical. A replica that accepted such a timestamp would drag its clock
// into the future and let one bad clock win every last-writer-wins race.
func CheckDrift(remote Timestamp, physical time.Time, maxDrift time.Duration) error {
	ahead := time.Duration(remote.Wall - physical.UnixNano())
	if ahead > maxDrift {
		return &DriftError{Remote: remote, Ahead: ahead, MaxDrift: maxDrift}
	}
	return nil
}
