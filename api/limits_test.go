package api_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

// TestLimitsAgreeWithCart ties the API's limits to the cart library's: the node validates a
// request against the API's numbers and then edits a cart that checks its own, so the two must
// be the same numbers or a request would pass one check and fail the other.
func TestLimitsAgreeWithCart(t *testing.T) {
	for _, c := range []struct {
		name      string
		api, cart int64
	}{
		{"ID length", api.MaxIDLength, cart.MaxItemIDLen},
		{"add quantity", api.MaxAddQuantity, cart.MaxQuantity},
		{"set quantity", api.MaxSetQuantity, cart.MaxQuantity},
		{"price", api.MaxPriceCents, cart.MaxPriceCents},
		{"lines", api.MaxLines, cart.MaxLines},
	} {
		if c.api != c.cart {
			t.Errorf("%s: api allows %d, cart %d", c.name, c.api, c.cart)
		}
	}
}

// TestIDRuleAgrees checks that the API's ID rule accepts exactly the IDs the cart library and
// the replica-ID rule of crdt accept.
func TestIDRuleAgrees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		alphabet := rapid.SampledFrom([]rune("aZ09._:@-/ %\x00éx"))
		id := string(rapid.SliceOfN(alphabet, 0, api.MaxIDLength+2).Draw(t, "id"))
		if got, want := api.InvalidIDByte(id), crdt.InvalidIDByte(id); got != want {
			t.Fatalf("InvalidIDByte(%q): api %d, crdt %d", id, got, want)
		}
		if got, want := api.ValidID(id) == nil, cart.ValidItemID(id) == nil; got != want {
			t.Fatalf("ValidID(%q) ok=%v, cart.ValidItemID ok=%v", id, got, want)
		}
	})
}

func TestSyncContentTypeAgrees(t *testing.T) {
	if api.SyncContentType != cart.SyncContentType {
		t.Errorf("sync media type: api %q, cart %q", api.SyncContentType, cart.SyncContentType)
	}
}
