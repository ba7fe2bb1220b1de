/*
Package device makes a phone, a laptop or a browser a replica of the carts
it edits, so that it edits them offline and syncs with any node when it
can, with every change applied exactly once however often and wherever it
is sent.

Without it, a device edits a cart by asking a node, which it cannot do
while cut off; and when a request times out, resending it to another node
may apply it twice, since a node knows only the idempotency keys it has
seen itself. With it, the CRDT reaches the device: the device holds its
own copy of each cart ([cart.Cart]), changes it at once, and exchanges
changes with nodes the way nodes exchange them with each other.

# Usage

	store, err := device.NewFileStorage(filepath.Join(dir, "device.state"))
	if err != nil { ... }                 // ErrInUse: another process has it
	defer store.Close()
	dev, err := device.New(device.Config{Storage: store})
	if err != nil { ... }                 // ErrCorrupt, ErrVersion, I/O errors

	_ = dev.Add("groceries", "apple", 2, &price) // at once, even offline
	_ = dev.SetQuantity("groceries", "pear", 3)
	fmt.Println(dev.Pending("groceries"))        // 2 changes waiting

	node, _ := client.New(client.Config{BaseURL: "http://node-a:7070"})
	if err := dev.Sync(ctx, node, "groceries"); errors.Is(err, client.ErrUnreachable) {
		// Offline: nothing is lost; sync again later, to any node.
	}
	view := dev.View("groceries") // the device's cart, with what the node had

# A device is a replica

A [Device] has its own replica ID, "d-" and 16 random hex digits
([IDPrefix]), made once when its storage is first used and kept with the
state, and its own hybrid logical clock. Every edit is tagged with a dot,
the pair (device ID, sequence number), taken from the cart's causal
context, so no two edits anywhere share one. A node that receives a change
it already has (same dot) merges it as a no-op. That is why a change
applies exactly once: not because the device remembers what it sent, but
because merging is idempotent.

The ID must never be reused by another state: copying a device's state
file to a second machine, or restoring it from an older backup, makes two
replicas mint the same dots, and nodes keep only the first change under
each. Start a new device instead (a fresh storage: a new ID). A Sync that
notices the node holds more of the device's changes than the device made
fails with [ErrReplicaReused].

# Offline, and exactly once

Edits ([Device.Add], [Device.Set], [Device.SetQuantity], [Device.SetPrice],
[Device.Remove], [Device.Clear]) change the device's replica and are saved
to its [Storage] before they return; none needs the network. Each also
joins the edit's delta to the cart's pending changes. [Device.Sync] sends
the pending changes and the replica's causal context (what it has seen) to
a node, which checks them, makes them durable, merges them, and answers
with what the device lacks: its changes the device has not seen, and
removals. The device merges the answer, which gives it the join of both
replicas, and only then drops the pending changes it sent. [Device.Pending]
counts the edits still waiting.

When anything goes wrong (the node is unreachable, the request or its
answer is lost, the node refuses the push) Sync returns the error and
keeps every pending change, so the next Sync, to the same node or another,
sends them again. A node that already had them answers as usual.

# Pending changes and syncs in flight

A cart's pending changes are a sequence of batches, each the join of the
deltas of consecutive edits, with an increasing ID and an edit count. An
edit joins the last batch unless a Sync has sent it, when it starts a new
one. A Sync sends the join of all batches and remembers the last one's ID;
when the node's 200 answer arrives it drops the batches up to that ID and
keeps those after it. So an edit made while a Sync waits for the network
(it does not wait for the Sync: no lock is held across the network) is not
acknowledged by that Sync's answer and goes with the next one. Subtracting
deltas is not possible in general; dropping whole batches by ID is exact,
and joining within a batch keeps the pending changes as small as one delta
while the device stays offline.

# What a device costs

Each device adds one entry, its replica ID and a sequence number, to the
version vector of every cart it edits, forever: the causal context must
remember every replica's changes so that late copies of removed adds stay
removed. A cart's history names at most [crdt.MaxReplicas] (4096)
replicas, nodes and devices together; a node refuses a push that would
make a cart exceed it (422). A device that only reads a cart (syncs
without editing) costs nothing. Removed lines cost nothing beyond that
entry: there are no tombstones.

A push is at most [api.MaxSyncBodyBytes] (1 MiB): pending changes are
joined, so this bounds what one cart's offline edits may add up to, not
their number (a cart holds at most [cart.MaxDots] separate adds anyway).

# Storage

[Storage] is a small interface over one byte string, saved whole after
every change, so that a device can live wherever bytes can: a file
([FileStorage], replaced atomically and locked against a second process),
memory ([MemoryStorage]), or browser storage. The state is a msgpack array
["crdtd-device", 1, ID, [wall, logical], carts], each cart
[ID, state, [[edits, delta]...]] with state and deltas in the cart codec.
Loading is bounded and validated like every decoder of outside bytes (a
user may edit or damage the file): a bad state is an error wrapping
[ErrCorrupt] or [ErrVersion], never a panic, and never a silent fresh
start. After loading, the clock restarts past the saved high-water mark
and past the latest timestamp in every cart, and new dots continue from
each cart's context, so nothing the device issued before is issued again.

# Concurrency

A Device is safe for concurrent use. Reads ([Device.View],
[Device.Pending], [Device.Carts]) never wait for the disk or the network.
Changes are applied to a copy, saved, then installed, one at a time, so
saves reach the storage in order and a failed save changes nothing.
*/
package device
