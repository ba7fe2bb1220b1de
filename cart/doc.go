// Package cart is a shopping cart that several devices edit at once, through
// different replicas, sometimes offline, and that always ends up the same
// everywhere without losing an add or bringing back a removed item.
//
// A [Cart] is an observed-remove map (crdt.ORMap) from item ID to a line.
// Each line keeps the increments of adds, the quantity assignments of sets
// and the unit-price assignments of price changes, each tagged with a dot;
// all lines share the cart's causal context. Every edit returns a delta to
// ship; [Cart.Merge] joins deltas or full states in any order, any number of
// times. Money is integer cents everywhere.
//
// The behaviour under concurrency is specified over the causal history H a
// replica has seen. For one item x: its quantity is the quantity of the
// latest (by hybrid logical clock) set of x in H that no other set or remove
// of x in H observed, or 0 if none, plus every add of x in H that no set or
// remove of x in H observed; x is in the cart while its quantity is above
// zero; its price is the latest price change of x in H that no remove or
// clear observed. In words:
//
//   - Two devices add an apple at the same time: two apples.
//   - One device removes the apples while another, unaware, adds one: one
//     apple. Only the add the remover never saw survives; the quantity it
//     removed does not come back (Riak's counter-in-map anomaly).
//   - Remove the apples, then add one on the same device: one apple.
//   - Both devices remove the apples: removed.
//   - One device sets 5 apples while another sets 3: the later set wins, 5
//     or 3 and never 8.
//   - One device sets 3 while another adds 1: 4.
//   - One device removes while another sets 2: 2. Adds and sets win over a
//     concurrent remove.
//   - A remove has reached every replica and an old replica reconnects with
//     its stale cart: the item stays removed (Dynamo's resurrection anomaly).
//   - A checkout-style Clear on one device while another adds a new item:
//     the new item remains.
//
// "Later" is decided by hybrid logical clock timestamps, so a set made after
// seeing another always wins over it, whatever the devices' wall clocks
// say. A set or remove absorbs the increments and assignments it observed,
// so a line's metadata shrinks back to one entry after every set.
//
// Edits validate their input (item IDs, quantities, prices; see the limits)
// and return an error wrapping [ErrInvalidItem], [ErrInvalidQuantity],
// [ErrInvalidPrice] or [ErrTooManyLines] without changing the cart. Decoding
// is bounded and validated like every decoder in crdt.
package cart
