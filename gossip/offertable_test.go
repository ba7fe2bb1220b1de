package gossip

import (
	"testing"
	"time"
)

// TestOfferTableExpiry: an offer is pending until it expires; once expired
// a new one may take its place; dropping it needs its nonce.
func TestOfferTableExpiry(t *testing.T) {
	t.Parallel()
	var tab offerTable
	now := time.Unix(1_000_000, 0)
	const timeout = time.Second
	if tab.pending("p", now) {
		t.Fatal("pending with no offer")
	}
	if !tab.put("p", pendingOffer{nonce: 1}, now, timeout) {
		t.Fatal("first offer refused")
	}
	if !tab.pending("p", now.Add(timeout-time.Nanosecond)) || tab.pending("p", now.Add(timeout)) {
		t.Fatal("an offer is pending until exactly its timeout")
	}
	if tab.put("p", pendingOffer{nonce: 2}, now.Add(timeout/2), timeout) {
		t.Fatal("a second offer replaced a pending one")
	}
	later := now.Add(timeout)
	if !tab.put("p", pendingOffer{nonce: 3}, later, timeout) {
		t.Fatal("a new offer refused after the old one expired")
	}
	tab.drop("p", 1) // the expired offer's nonce: not the pending one
	if !tab.pending("p", later) {
		t.Fatal("dropping another nonce removed the pending offer")
	}
	tab.drop("p", 3)
	if tab.pending("p", later) {
		t.Fatal("dropping the pending offer's nonce left it")
	}
}
