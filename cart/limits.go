package cart

import (
	"fmt"

	"github.com/crdtd/crdtd/crdt"
)

// Limits on what one edit may ask for (docs/http-api.md). They bound every
// number a cart holds, so subtotals of a single line always fit an int64.
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
	// MaxDots is the most separate changes (dots) a replica lets a cart
	// reach through its own adds. Each add is kept apart until a set or
	// remove of its line folds it in (it may meet a concurrent set
	// elsewhere), so without a bound a stream of adds would grow a cart
	// without end: memory holds one replica's consecutive adds of one
	// quantity as a single run, but the encoding lists every add, and a
	// set of the line lists them all again. A hundred thousand dots
	// encode in well under a megabyte. Sets and removes, which fold dots,
	// are never refused by it.
	MaxDots = 100_000
)

// maxDots is the MaxDots in force; tests lower it to reach it quickly.
var maxDots = MaxDots

// ValidItemID reports whether id is a valid item ID, and why not.
func ValidItemID(id string) error {
	if len(id) == 0 || len(id) > MaxItemIDLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrInvalidItem, len(id), MaxItemIDLen)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%w: %q (a URL path cannot name it)", ErrInvalidItem, id)
	}
	if i := crdt.InvalidIDByte(id); i >= 0 {
		return fmt.Errorf("%w: %q has byte %q at %d (allowed: A-Z a-z 0-9 . _ : @ -)", ErrInvalidItem, id, id[i], i)
	}
	return nil
}
