// Package daemon is a crdtd node as a library: it wires the durable store,
// the in-memory carts, gossip replication and the HTTP API together.
// [Run] serves until its context ends; [Start] returns a running [Daemon]
// so tests and embedding programs can run nodes in-process on port 0.
//
// Every local write follows the order that keeps dots unique across crashes:
// apply the edit to a copy of the cart, commit the new state with fsync
// (group commit batches concurrent writers), then install it in memory,
// acknowledge and broadcast the delta. Carts merged from peers are persisted
// shortly after, in batches; a crash may lose those, never a local write,
// and anti-entropy brings them back.
package daemon
