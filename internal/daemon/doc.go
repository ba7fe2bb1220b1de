// Package daemon is a crdtd node as a library: it wires the durable store,
// the in-memory carts, gossip replication and the HTTP API together.
// [Run] serves until its context ends; [Start] returns a running [Daemon]
// so tests and embedding programs can run nodes in-process on port 0.
//
// The node is split by concern, and no part holds the Daemon:
//   - nodeClock (clock.go): the hybrid logical clock, physical time and the
//     drift check on remote timestamps;
//   - carts (carts.go): every cart in memory, the set of carts to persist,
//     and the edit/install/merge steps of local writes and remote merges;
//   - heartbeats (heartbeats.go): the latest heartbeat of every replica,
//     for the consistency monitor and the clock guard;
//   - clockGuard (clockguard.go): refuses or holds local writes that peers
//     would reject for clock drift;
//   - delegate (delegate.go): the gossip.Delegate, a router by key prefix
//     over carts and heartbeats;
//   - broker (events.go): wakes the event streams of a cart when the cart
//     table reports a change to it;
//   - apiTLS (tls.go): the API's certificate and client CAs, read at start,
//     and the warning about a certificate close to expiry;
//   - the HTTP handlers (api.go, handlers_*.go) and the write path
//     (write.go), which are methods of the Daemon that owns the parts.
//
// Every local write follows the order that keeps dots unique across crashes:
// apply the edit to a copy of the cart, append its delta to the store's
// write-ahead log with fdatasync (group commit batches concurrent writers),
// then merge the delta into the cart in memory, acknowledge and broadcast
// it. One background goroutine persists carts merged from peers shortly
// after they change, and checkpoints every Config.CheckpointInterval,
// folding the log into the data file; at start the node replays what the
// log still holds. A crash may lose remote merges not yet persisted, never
// an acknowledged local write, and anti-entropy brings the former back.
package daemon
