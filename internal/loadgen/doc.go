// Package loadgen puts a load of cart operations on one or more crdtd nodes over their HTTP API
// and measures what a shopper and an operator care about: how many operations a second the
// nodes complete, how long each takes, which fail and why, and how long a write on one node
// takes to be seen on every other. It is the engine of cartctl bench, which maps
// its flags to a [Config] and prints the [Report].
//
// # Usage
//
//	rep, err := loadgen.Run(ctx, loadgen.Config{
//		Nodes:    []string{"http://127.0.0.1:7070", "http://127.0.0.1:7071"},
//		Duration: 30 * time.Second,
//	})
//
// The zero value of a Config field means its default ([DefaultConfig]). Run returns an error
// only for an invalid Config, or for a node that cannot be reached or refuses a first read
// before the load starts; once the load runs, failures are counted in the Report. Cancelling ctx ends the load early, and Run
// returns the report of what finished.
//
// # The load
//
// [Config.Concurrency] workers each run one operation at a time. For each, a worker draws an
// operation according to the [Mix] (add 1 of an item, set its quantity to 1..10, remove its
// line, or read the cart), a cart among [Config.Carts] (bench-0, bench-1, ...) and an item
// among [Config.Items] (item-0, ...), from a random source seeded by [Config.Seed] and the
// worker's number, and sends it to the next node in turn. The run lasts [Config.Duration] or
// [Config.Requests] operations; [Config.OpTimeout] bounds each operation, retries included.
//
// Without a [Config.Rate] the loop is closed: a worker starts its next operation when the last
// one ends, so the load measures how fast the nodes answer this many concurrent clients. A
// closed loop hides a slow node: while it stalls, no new operations are sent, and the stall
// counts once, not once per operation that would have waited (coordinated omission). With a
// Rate the loop is open: operation i is due at start + i/Rate, and its latency counts from that
// moment, not from when a worker got to send it; a node that falls behind shows it in the
// percentiles.
//
// # Convergence
//
// With two or more nodes, a sampler spreads [Config.ConvergenceSamples] markers evenly over the
// run. For each it adds an item bench-marker-RUN-K to a cart bench-conv-RUN-K of its own on one
// node (in turn), then reads that cart on every other node every [Config.ConvergencePoll] until
// each shows the marker, and records the time from the write's acknowledgment to the last node
// seeing it: how long a shopper's change takes to reach every node. A marker not seen
// everywhere within 10 s counts as a timeout. Markers are not counted as operations. The poll
// pause is the figure's resolution, and polling costs the nodes CPU: 50 nodes polled every
// millisecond is 49,000 reads a second, so raise the pause for large clusters on one machine.
//
// # Cleaning up
//
// A run writes only carts whose names start with [CartPrefix] ("bench-"), and leaves them in
// place unless [Config.Cleanup] is set, which clears each of them on every node at the end.
//
// # The client side
//
// The load generator usually shares a small machine with the nodes it measures, so every
// microsecond of its own CPU is one the nodes do not get. It uses package client (retries with
// one Idempotency-Key per mutation, error classification) over a transport of its own: HTTP/1.1
// on kept-alive connections, each request written and its answer read in the calling goroutine,
// which costs about a third less CPU per operation than net/http's Transport. HTTPS nodes go
// through net/http's. The workers do not decode the cart views the nodes answer with: their
// transport reads each successful answer to its end (so the connection can be reused), checks
// that it is a JSON object, and hands the client an empty one. Only the sampler, which needs
// to see its marker, decodes views. The nodes still build and send every view: what is
// measured is the API as clients use it.
//
// # The report
//
// [Report] counts the operations that finished (Ops), those that failed after their retries
// (Failed) and the failures by kind (Errors): an API error code such as "unavailable",
// "timeout" when OpTimeout ran out, "unreachable" when the node did not answer, or "other".
// Throughput is successful operations per second of the load's duration. Latency is that of
// successful operations, overall and per operation (ByOp): p50, p90 and p99 by the nearest-rank
// method, and the maximum, in milliseconds. Up to 1,000,000 operations every latency is kept
// and the percentiles are exact; beyond, they come from a uniform sample of that many
// (reservoir sampling), while the maxima and counts stay exact. Convergence gives the same
// percentiles over the markers, with how many timed out or could not be written. Interrupted
// says the run was cut short, and its figures cover only what ran.
//
// # Concurrency
//
// Run may be called from several goroutines at once: each call has its own workers,
// connections and figures, and all its goroutines have ended when it returns.
package loadgen
