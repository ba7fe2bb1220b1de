package cart

import (
	"fmt"

	"github.com/crdtd/crdtd/crdt"
)

// Limits on what one edit may ask for (DESIGN §8). They bound every number a
// cart holds, so subtotals of a single line always fit an int64.
const (
	// MaxItemIDLen is the longest item ID, in bytes.
	MaxItemIDLen = 128
	// MaxQuantity is the largest quantity one Add may bring a line to, and
	// the largest quantity SetQuantity accepts.
	MaxQuantity = 1_000_000
	// MaxPriceCents is the largest unit price, in cents (ten billion units).
	MaxPriceCents = 1_000_000_000_000
	// MaxLines is the most lines a replica lets its own edits create.
	// Concurrent edits on several replicas may together exceed it; the cart
	// stays correct, only further new lines are refused.
	MaxLines = 10_000
)

// ValidItemID reports whether id is a valid item ID, and why not.
func ValidItemID(id string) error {
	if len(id) == 0 || len(id) > MaxItemIDLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrInvalidItem, len(id), MaxItemIDLen)
	}
	if i := crdt.InvalidIDByte(id); i >= 0 {
		return fmt.Errorf("%w: %q has byte %q at %d (allowed: A-Z a-z 0-9 . _ : @ -)", ErrInvalidItem, id, id[i], i)
	}
	return nil
}
