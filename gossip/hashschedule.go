package gossip

import "time"

// hashSchedule decides when the local worker re-hashes a changed key into
// the digest. Encoding and hashing a key's state costs in proportion to its
// size, and a key under a stream of writes changes again before anyone
// compares its hash, so a changed key waits: it is hashed once it has been
// quiet for a whole tick, or once it has waited maxWait while still
// changing. A key written many times a second is then hashed every maxWait
// instead of every tick, and a key changed once is hashed two ticks later.
//
// It is the local worker's alone and not safe for concurrent use.
type hashSchedule struct {
	maxWait time.Duration
	// pending holds the keys changed since they were last hashed, each with
	// the time of the tick that first found it changed.
	pending map[string]time.Time
}

func newHashSchedule(maxWait time.Duration) *hashSchedule {
	return &hashSchedule{maxWait: maxWait, pending: make(map[string]time.Time)}
}

// tick takes the keys marked changed since the previous tick (nil if
// none) and returns those to hash now: every waiting key not among them,
// and every key that has waited maxWait or more. The others wait. It
// consumes changed.
func (s *hashSchedule) tick(now time.Time, changed map[string]struct{}) []string {
	var due []string
	for k, since := range s.pending {
		_, again := changed[k]
		if again && now.Sub(since) < s.maxWait {
			continue
		}
		// Hashed now, from its state as it is now: the change that marked
		// it again is in it.
		due = append(due, k)
		delete(s.pending, k)
		delete(changed, k)
	}
	for k := range changed {
		if _, waiting := s.pending[k]; !waiting {
			s.pending[k] = now
		}
	}
	return due
}

// waiting reports whether any key waits to be hashed.
func (s *hashSchedule) waiting() bool { return len(s.pending) > 0 }
