package cart

import "errors"

// Sentinel errors. Operations wrap them with the offending value; the daemon
// maps them to HTTP 400 with errors.Is.
var (
	// ErrInvalidItem reports an item ID outside 1..MaxItemIDLen bytes of
	// [A-Za-z0-9._:@-].
	ErrInvalidItem = errors.New("invalid item id")
	// ErrInvalidQuantity reports a quantity outside the allowed range.
	ErrInvalidQuantity = errors.New("invalid quantity")
	// ErrInvalidPrice reports a unit price outside 0..MaxPriceCents.
	ErrInvalidPrice = errors.New("invalid price")
	// ErrTooManyLines reports an edit that would create line MaxLines+1.
	ErrTooManyLines = errors.New("too many lines in cart")
	// ErrTooManyAdds reports an add refused because the cart already holds
	// MaxDots separate changes. Setting a line's quantity folds its adds
	// into one.
	ErrTooManyAdds = errors.New("too many separate adds in cart")
	// ErrOverflow reports a local edit refused because it would make a
	// subtotal or the cart total exceed an int64 number of cents. Totals are
	// never wrapped; see View.Overflow for merged state.
	ErrOverflow = errors.New("cart total overflow")
	// ErrForeignChanges reports a push that carries changes (dots) of a
	// replica other than its sender which the receiver has not seen: a
	// device may only send its own new changes.
	ErrForeignChanges = errors.New("push carries changes of another replica")
	// ErrPushAhead reports a push that removes or replaces changes of
	// another replica that the receiver has not seen yet: the sender
	// learned them elsewhere. It is not an error of the sender; the push
	// can be applied once the receiver has caught up (retry later, or sync
	// with the replica it learned them from).
	ErrPushAhead = errors.New("push builds on changes this replica has not seen yet")
	// ErrPushTooLarge reports a push beyond the cart limits: more lines
	// than MaxLines, more new changes than MaxDots, or more replicas in the
	// cart's history than crdt.MaxReplicas.
	ErrPushTooLarge = errors.New("push too large")
)
