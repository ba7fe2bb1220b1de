package gossip

import (
	"sync"
	"time"
)

// offerTable holds the repair offers sent and not yet answered: one per
// peer at most. It is safe for concurrent use; its lock is a leaf.
type offerTable struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]pendingOffer
}

// pendingOffer is an offer sent to a peer: what it offered, and the
// differing buckets left to offer once it is served.
type pendingOffer struct {
	nonce   uint64
	offered []subSet // ascending by bucket
	rest    []uint8
	expires time.Time
}

// pending reports whether an offer to peer is still waiting for its answer.
func (t *offerTable) pending(peer string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.m[peer]
	return ok && now.Before(p.expires)
}

// put records offer p to peer, expiring after timeout, unless an earlier
// one is still pending.
func (t *offerTable) put(peer string, p pendingOffer, now time.Time, timeout time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.m[peer]; ok && now.Before(old.expires) {
		return false
	}
	if t.m == nil {
		t.m = make(map[string]pendingOffer)
	}
	p.expires = now.Add(timeout)
	t.m[peer] = p
	return true
}

// take removes and returns the offer to peer that a want answers: same
// nonce, not expired, and no sub-bucket that was not offered. Otherwise the
// table is left as it was, so a forged want cannot cancel a real offer.
func (t *offerTable) take(peer string, nonce uint64, want []subSet, now time.Time) (pendingOffer, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.m[peer]
	if !ok || p.nonce != nonce || !now.Before(p.expires) || !offeredAll(p.offered, want) {
		return pendingOffer{}, false
	}
	delete(t.m, peer)
	return p, true
}

// offeredAll reports whether every sub-bucket of want is in offered.
func offeredAll(offered, want []subSet) bool {
	for i := range want {
		w := &want[i]
		j := 0
		for j < len(offered) && offered[j].Bucket != w.Bucket {
			j++
		}
		if j == len(offered) || !w.Subs.subsetOf(&offered[j].Subs) {
			return false
		}
	}
	return true
}

// drop removes the offer to peer with nonce, if it is still the pending one.
func (t *offerTable) drop(peer string, nonce uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.m[peer]; ok && p.nonce == nonce {
		delete(t.m, peer)
	}
}

// forget removes any offer to peer (it left or died).
func (t *offerTable) forget(peer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, peer)
}
