/*
Package crdt implements state-based, delta-capable conflict-free replicated
data types (CRDTs): a grow-only counter, a counter that goes up and down, a
last-writer-wins register, an add-wins observed-remove set, and an
observed-remove map, together with the causal building blocks they share
(dots, causal contexts and a hybrid logical clock).

A replica of any of these types can be changed at any time, even cut off
from every other replica, and never needs to coordinate. Replicas exchange
states in any order, as often as they like, and every replica that has
received the same changes holds the same state, whatever the order, repetition
or batching of the messages that carried them.

The package is pure: it does no I/O, starts no goroutines, never logs and
never reads the clock. Its callers (the cart package, the gossip layer and
the daemon) move bytes and time around; this package returns the work to do.

# Replicas

A replica is one copy of an object, named by a [ReplicaID]. The ID names the
replica for all time: two replicas must never share an ID, and a replica
whose state was lost (a wiped disk, a restored backup) must come back under a
fresh ID, never its old one. Every change a replica makes is tagged with its ID
and a sequence number, and receivers ignore a tag they have already seen; a
reused ID would make them silently drop the new changes. For the same reason
node names and network addresses are not replica IDs. A daemon generates a
random ID when it creates its data directory. Valid IDs are 1 to
[MaxReplicaIDLen] bytes of [A-Za-z0-9._:@-]; [ParseReplicaID] checks one. The
mutators panic when handed an invalid ID, a programming error that would
otherwise mint changes no encoding can carry.

# Dots and causal contexts

A [Dot] is the identity of one event: (replica, seq), the seq-th event
replica generated. A [CausalContext] is the set of dots a replica has seen,
stored as a version vector (replica r has seen r:1 ... r:n) plus a dot cloud
for dots that arrived ahead of a gap. When the gap fills, the cloud compacts
into the vector, so a context stays as small as a version vector in the
common case. A context never claims a dot it has not seen, which is what
makes out-of-order delivery safe. [CausalContext.Next] mints a replica's next
dot; only the replica itself may mint its dots. Sequence numbers stop at
[MaxSeq] (2^62): decoders refuse larger ones, and a mutator that would need
one returns [ErrSeqExhausted] and changes nothing, so a counter never wraps
around to reuse a dot, whatever a peer sends.

The causal types ([ORSet], [ORMap]) keep their data in dot stores that share
one causal context, following Almeida, Shoker and Baquero, "Delta State
Replicated Data Types" (2018):

  - a [DotSet] is a set of dots: an OR-Set element is present while at least
    one of the dots of the adds that made it present survives;
  - a [DotFun] maps dots to immutable payloads: each entry is one update and
    the value it carried (an increment, a timestamped assignment);
  - an [ORMap] maps keys to dot stores, sharing its context among them (the
    paper's DotMap).

Any type implementing [DotStore] can live in an [ORMap]; values of a
[DotFun] implement [Payload]. The cart package builds its lines that way.
A store that declares [MergesByCopy] (its merge returns a new store rather
than changing itself, as DotSet's and DotFun's do) is shared between a map
and its copies, so that copying a map for an edit does not copy its dots.
A store that can look up one dot ([DotLookup]) lets [ORMap.Update] check
the dots a mutation supersedes one by one. DotSet and DotFun hold their
dots in runs: consecutive dots of one replica
(carrying one payload, in a DotFun) are one entry, so a line of a thousand
adds of one by one replica is one run ([DotFun.Runs]), in memory and in
every merge; the encoding still lists every dot. They keep room to grow in
a list built by a merge, and a later merge that only adds dots after the
last appends them there, if no copy has claimed that room first: an add to
a store of a thousand dots costs about what one to a store of eight does.

The context is what lets these types forget: a remove drops dots from the
store, and the context remembers that they were seen. When a late copy of a
removed add arrives, its dot is already in the receiver's context and is
ignored. There are no tombstones: nothing is kept per removed element.

# Deltas and merge

Every mutator returns a delta: a small value of the same type that carries
exactly the effect of the mutation (an [ORSet.Add] delta holds one element
with one dot, and the dots it supersedes in its context). Shipping the delta
instead of the full state is what keeps replication cheap. Deltas and full
states are the same type, so one Merge method joins either, and deltas can be
joined with each other before they are sent (the gossip layer keeps one
queued delta per object, the join of all its pending ones).

Merge(other) joins other into the receiver and reports whether the receiver
changed. The changed bit is how replication knows when to stop: a node
relays a delta only when it taught it something. Merge never modifies its
argument and never keeps a reference into it.

The etcd-io/raft discipline applies: the core returns work and the edges do
it. A mutation returns the delta to persist and broadcast; a merge returns
whether anything changed; no method here sends, stores or waits.

# The join and its laws

Merge computes the least upper bound (join) of two states in a join
semilattice. For all reachable states a, b, c and every delta d produced by a
mutation m of s:

	a ⊔ b = b ⊔ a                    commutative: delivery order does not matter
	(a ⊔ b) ⊔ c = a ⊔ (b ⊔ c)        associative: batching does not matter
	a ⊔ a = a                        idempotent: duplicates do not matter
	a ⊑ a ⊔ b                        inflationary: merging never loses information
	s ⊔ d = m(s), x ⊔ s ⊔ d = x ⊔ m(s)  a delta carries the whole mutation

Together they give strong eventual consistency: replicas that have received
the same set of deltas or states are equal, and encode to identical bytes.
The package tests check every law for every type on states reached by real
operations from several replicas, through the conformance kit in crdttest,
and compare each type with its specification over random histories with
lost, duplicated and reordered deltas.

# Types

Each type's value is specified over the causal history H a replica has seen:
the operations whose effect has reached it, directly or through another
replica.

  - [GCounter]: the value is the sum of all increments in H. Increments are
    positive; a value beyond 2^64-1 is [ErrOverflow], never a wrap. Each
    replica owns one entry and merge takes the maximum of each.
  - [PNCounter]: increments minus decrements in H, as an int64; a value
    outside int64 is [ErrOverflow]. Two GCounters.
  - [LWWRegister]: the value of the write in H with the greatest
    [Timestamp]. Timestamps come from an [HLC], so a write made after seeing
    another wins over it even if the writer's wall clock is behind; among
    concurrent writes the greater timestamp wins, on every replica alike.
  - [ORSet]: e is in the set iff some add(e) in H is not observed by any
    remove(e) in H. A remove observes the adds its replica had seen when it
    removed; an add concurrent with a remove therefore survives it
    (add-wins). Tombstone-free: a remove only drops dots.
  - [ORMap]: a key is present iff some update of it in H is not observed by
    a remove of it in H; its value is what those unobserved updates made.

Under causal delivery, "seen" is the plain causal history. When deltas skip
ahead of the ones before them, a remove or a superseding add observes the
adds that were present at its replica when it ran, which is what its delta
can carry; once replicas have exchanged states, the two readings agree.

# Reset-remove maps

[ORMap] is a reset-remove map. Removing a key drops every dot the remover had
seen under it; an update made concurrently, which the remover could not have
seen, survives, and after the join the key holds exactly what that update
did, nothing of what the remove saw. A cart where the phone removes the
apples (3 of them) while the laptop, unaware, adds one ends with one apple,
not four: the removed quantity is not resurrected. (Akka's ORMap, by
contrast, keeps the old value around a concurrent update.) [ORMap.Update]
takes a function that returns a [Mutation]: the new dots to add, minted by
the next function it receives, and the dots of the key it supersedes (a
"set" supersedes everything it saw; an "add" supersedes nothing, so
concurrent adds accumulate). [ORMap.Clear] removes every key and likewise
spares concurrent updates.

# Hybrid logical clocks

[HLC] is a hybrid logical clock (Kulkarni et al., "Logical Physical Clocks",
2014). A reading is a [Timestamp]: wall-clock nanoseconds, a logical counter
that orders events within one wall value, and the replica ID as the final
tie-break, which makes the order total. [HLC.Now] takes the physical time as
an argument and returns a reading greater than every reading the clock issued
or observed; [HLC.Observe] advances the clock past a remote timestamp. The
clock never goes backwards, even when physical time does, and the logical
counter carries into the wall component rather than wrapping. A replica
persists [HLC.Last] and passes it to [HLC.Restore] after a restart.

A replica must not observe a timestamp from a clock far in the future: that
would drag its own clock along and let one bad clock win every
last-writer-wins race. [CheckDrift] returns a [*DriftError] for a remote
timestamp more than an allowed drift ahead of local physical time; the
daemon rejects such updates.

# Usage

A replica applies a mutation, persists the result, and ships the delta;
receivers merge it:

	var phone, laptop crdt.ORSet[string]

	d := phone.Add("phone-7f3e", "apple") // change locally, get the delta
	b, _ := d.MarshalBinary()             // send b to the other replicas

	var in crdt.ORSet[string]
	if err := in.UnmarshalBinary(b); err != nil {
		return err // hostile or corrupt input: count it and drop it
	}
	if laptop.Merge(&in) {
		// changed: persist, and relay the delta onward
	}

Anti-entropy exchanges full states the same way: MarshalBinary of the whole
object, Merge on the other side. Timestamps for [LWWRegister.Set] come from
the writing replica's [HLC]; receivers pass the timestamps they merge to
[HLC.Observe] after checking them with [CheckDrift].

# Guarantees

  - Convergence: replicas that have merged the same deltas or states, in
    any order and any number of times, are Equal and encode to the same
    bytes.
  - Deltas: merging a mutator's delta anywhere has the same effect as
    merging the full mutated state.
  - No lost or resurrected changes: an add concurrent with a remove
    survives; an add the remover saw never comes back, however late an old
    copy of it arrives (the context remembers its dot).
  - No tombstones: an OR-Set or OR-Map keeps nothing per removed element.
    Its context grows by one version vector entry per replica that ever
    wrote, plus the dots of deltas that arrived ahead of a gap.
  - Counters never wrap: overflow is [ErrOverflow] and changes nothing.
  - Decoding is total: any input either decodes to a state MarshalBinary
    could have produced or returns an error wrapping [ErrCorrupt] or
    [ErrVersion]. It never panics, and it allocates in proportion to
    the bytes it actually decodes, never to what a length header claims.
  - No shared internals: no method returns or retains a map, slice or store
    that the caller or another state also holds, except that an [ORMap] and
    its copies share stores that never change in place ([MergesByCopy]).
    Nothing can change what a shared store holds (a merge appends only past
    the end of every store sharing its array, and only one may claim that
    room), so sharing is invisible, also to copies owned by different
    goroutines.

# Concurrency

No type in this package is safe for concurrent use. A replica's state has
one owner, which serializes access to it, typically a [sync.Mutex] held
around a mutation or merge and released before the delta is sent. Distinct
values share nothing, so different objects can be used from different
goroutines freely. Deltas and decoded states are fresh values owned by the
caller.

# Wire format

MarshalBinary writes a canonical encoding: equal states encode to equal
bytes, so digests of encodings agree across replicas. The first byte is the
version, [EncodingVersion]; a decoder rejects any other with [ErrVersion].
The rest is one msgpack (github.com/vmihailenco/msgpack/v5) value, using
only arrays, integers in their shortest form, strings and booleans:

	GCounter     [replica, n, replica, n, ...]          replicas sorted, n > 0
	PNCounter    [increments GCounter, decrements GCounter]
	LWWRegister  [] when unset, else [[wall, logical, replica], value]
	ORSet        [context, [element, dotset, element, dotset, ...]]
	ORMap        [context, [key, store, key, store, ...]]

	context      [[replica, n, cloud seq...], ...]      replicas sorted
	DotSet       [dot, dot, ...]                        dots sorted
	DotFun       [dot, payload, dot, payload, ...]      dots sorted
	dot          [replica index, seq]

Every map is written as a flat array in sorted key order; there are no
msgpack maps. A context entry holds the replica, the top of its version
vector (0 if none) and its sorted cloud. A dot is written as the index of its
replica in the enclosing context's sorted replica table, and its sequence
number: every dot a store holds is in its context, so the table is complete
and each replica ID is written once per state. Stores and payloads of types
outside this package write themselves through an [Encoder] and read
themselves through a [Reader], so they share this format.

Decoding is bounded for bytes from untrusted peers. The input is limited to
[MaxEncodedSize] before anything is read; every array and string length is
checked against the bytes that remain before anything is allocated (a
five-byte header claiming 50 million elements is rejected at once), strings
are limited to [MaxStringLen] and replica IDs to [MaxReplicaIDLen];
decoding goes into concrete types only and never recurses on input-controlled
depth. After parsing, the decoder checks meaning: sorted and unique keys,
dots and replicas, canonical contexts, no empty stores, no zero counter
entries, valid replica IDs, every dot present in its context, and no trailing
bytes. Golden files in testdata/crdt pin the format; a change to it needs a
new version byte.
*/
package crdt
