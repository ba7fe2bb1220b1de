package gossip

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func keySet(keys ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}

// TestHashScheduleHashesAQuietKey checks that a key changed once is hashed
// at the first tick that finds it unchanged, and only then.
func TestHashScheduleHashesAQuietKey(t *testing.T) {
	t.Parallel()
	s := newHashSchedule(5 * time.Second)
	t0 := time.Unix(1000, 0)
	if due := s.tick(t0, keySet("a")); len(due) != 0 {
		t.Fatalf("tick that found a changed hashed %v, want nothing yet", due)
	}
	if !s.waiting() {
		t.Fatal("a changed key is not waiting")
	}
	if due := s.tick(t0.Add(250*time.Millisecond), keySet()); !slices.Equal(due, []string{"a"}) {
		t.Fatalf("quiet tick hashed %v, want [a]", due)
	}
	if s.waiting() {
		t.Fatal("a key still waits after it was hashed")
	}
	if due := s.tick(t0.Add(500*time.Millisecond), keySet()); len(due) != 0 {
		t.Fatalf("tick with nothing changed hashed %v", due)
	}
}

// TestHashScheduleBoundsABusyKey checks that a key changed at every tick
// waits until maxWait has passed since its first change, is hashed then,
// and starts waiting afresh with its next change.
func TestHashScheduleBoundsABusyKey(t *testing.T) {
	t.Parallel()
	const tick, maxWait = 250 * time.Millisecond, 5 * time.Second
	s := newHashSchedule(maxWait)
	t0 := time.Unix(1000, 0)
	now := t0
	for ; now.Sub(t0) < maxWait; now = now.Add(tick) {
		changed := keySet("hot", "q") // q first changes a tick after hot
		if now == t0 {
			delete(changed, "q")
		}
		if due := s.tick(now, changed); len(due) != 0 {
			t.Fatalf("busy keys hashed %v, %v after hot's first change, before %v", due, now.Sub(t0), maxWait)
		}
	}
	if due := s.tick(now, keySet("hot", "q")); !slices.Equal(due, []string{"hot"}) {
		t.Fatalf("tick %v after hot's first change hashed %v, want hot and not q (changed again, not waited as long)", now.Sub(t0), due)
	}
	if due := s.tick(now.Add(tick), keySet()); !slices.Equal(due, []string{"q"}) {
		t.Fatalf("next tick hashed %v, want only q: hot's last change was in its hash", due)
	}
	// A change after the hash waits again, from its own first tick.
	t1 := now.Add(2 * tick)
	for now = t1; now.Sub(t1) < maxWait; now = now.Add(tick) {
		if due := s.tick(now, keySet("hot")); len(due) != 0 {
			t.Fatalf("busy key hashed again %v into its second wait", now.Sub(t1))
		}
	}
}

// TestHashScheduleProperties runs random change patterns through the
// schedule and checks, after every tick, what it promises: a key is hashed
// only if it changed since its last hash; a key that was waiting and did
// not change again is hashed at once; no change waits maxWait or more; and
// waiting reports whether any change is unhashed.
func TestHashScheduleProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		const tick = 100 * time.Millisecond
		maxWait := time.Duration(rapid.IntRange(1, 20).Draw(t, "maxTicks")) * tick
		s := newHashSchedule(maxWait)
		keys := []string{"a", "b", "c", "d"}
		unhashed := map[string]time.Time{} // key -> tick that first saw an unhashed change
		now := time.Unix(1000, 0)
		for i := range rapid.IntRange(1, 200).Draw(t, "ticks") {
			now = now.Add(tick)
			changed := keySet(rapid.SliceOfDistinct(rapid.SampledFrom(keys), rapid.ID).Draw(t, fmt.Sprint("changed", i))...)
			inChanged := func(k string) bool { _, ok := changed[k]; return ok }
			wasWaiting := make(map[string]bool)
			for k := range unhashed {
				wasWaiting[k] = !inChanged(k)
			}
			var marked []string
			for k := range changed {
				marked = append(marked, k)
			}
			due := s.tick(now, changed)
			for _, k := range due {
				if _, ok := unhashed[k]; !ok && !slices.Contains(marked, k) {
					t.Fatalf("tick %d hashed %s, which has not changed since its last hash", i, k)
				}
				delete(unhashed, k)
			}
			for k, quiet := range wasWaiting {
				if quiet && !slices.Contains(due, k) {
					t.Fatalf("tick %d left %s waiting: it was waiting and did not change again", i, k)
				}
			}
			for _, k := range marked {
				if _, ok := unhashed[k]; !ok && !slices.Contains(due, k) {
					unhashed[k] = now
				}
			}
			for k, since := range unhashed {
				if now.Sub(since) >= maxWait {
					t.Fatalf("after tick %d, %s's change has waited %v, maxWait %v", i, k, now.Sub(since), maxWait)
				}
			}
			if s.waiting() != (len(unhashed) > 0) {
				t.Fatalf("after tick %d waiting() = %v with %d keys unhashed", i, s.waiting(), len(unhashed))
			}
		}
	})
}

// TestDigestFollowsAKeyThatNeverRests checks the local worker against a
// key written without pause: its digest entry must still follow within
// DigestMaxDelay, although the key is never quiet for a tick.
func TestDigestFollowsAKeyThatNeverRests(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, func(_ int, cfg *Config) {
		cfg.DigestDelay = 20 * time.Millisecond
		cfg.DigestMaxDelay = 200 * time.Millisecond
	})
	n := c.start(0, newSetDelegate(), 0)
	d := c.dels[0]
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			d.add("busy", fmt.Sprint(i))
			n.Updated("busy")
			time.Sleep(time.Millisecond) // many changes per 10 ms tick, a set that stays small
		}
	}()
	t.Cleanup(func() { stop.Store(true); <-done })
	waitFor(t, 10*time.Second, func() (bool, string) {
		return n.Digest() != 0, "the busy key is not in the digest while it keeps changing"
	})
	first := n.Digest()
	waitFor(t, 10*time.Second, func() (bool, string) {
		return n.Digest() != first, "the busy key's digest entry did not follow its later changes"
	})
}
