// Package gossip replicates opaque keyed objects between nodes over
// hashicorp/memberlist: fast delta dissemination plus digest-based
// anti-entropy that repairs whatever the fast path lost.
//
// The package knows nothing about what the objects are. The owner of the
// objects (the crdtd daemon) implements [Delegate]: it merges bytes into an
// object and reports whether anything changed, and it returns an object's
// canonical full state. Any join-semilattice whose deltas and full states
// share one encoding fits.
//
// # Usage
//
//	cfg := gossip.DefaultConfig() // or DefaultLocalConfig for loopback
//	cfg.Name = "node-a"
//	cfg.Meta = map[string]string{"api": "10.0.0.1:7070"} // peers see it in Member.Meta
//	cfg.Delegate = store // implements gossip.Delegate
//	cfg.Memberlist.BindPort = 7946
//	node, err := gossip.New(cfg)
//	...
//	defer node.Shutdown()
//	_, err = node.Join(ctx, []string{"10.0.0.2:7946"})
//	...
//	// After every durable local change:
//	node.Publish(key, delta, changeTime)
//	...
//	node.Leave(5 * time.Second)
//
// # Guarantees
//
// Every change published on any node reaches every node that stays
// connected to the cluster, or is reconnected to it later, as long as the
// Delegate's Merge is a join (commutative, associative, idempotent):
//
//   - Deltas spread by gossip: a node puts a fresh delta on its memberlist
//     transmit queue, which sends it RetransmitMult·log10(N+1) times in
//     total; every receiver whose state changed queues it again (relay),
//     one whose state did not change stops it. The origin also sends it at
//     once to [Config].DirectPushPeers peers: to every peer of a small
//     cluster, which then need not relay it, to a random few of a large one.
//     Deltas larger than half the UDP packet budget go to all members by
//     SendReliable instead. A queued delta of a key is joined with newer
//     ones of the same key; when the join fits no packet, the newest
//     replaces it and anti-entropy delivers the rest.
//   - Anti-entropy repairs everything else: at every memberlist push/pull
//     (PushPullInterval, and at Join) both ends exchange a 256-bucket digest
//     of their objects (at most 2.1 KiB, whatever the data size). Each end
//     offers the other up to 16 of the buckets that differ, with its own
//     hash of each of their 256 sub-buckets and a nonce; the other answers
//     with the offered sub-buckets whose hash differs from its own, echoing
//     the nonce; and only then does the offering end send, by SendReliable
//     and under a byte-rate cap, the full states of the objects in those
//     sub-buckets, and then offers the next 16 differing buckets. So one
//     missed change costs about N/65,536 objects of N, not N/256. Receivers
//     merge these and do not relay them. The round trip is there because
//     memberlist does not say who sent a digest, and any holder of the
//     cluster key can write any name into one: objects go only to an alive
//     member, at the address memberlist knows for it, that received the
//     offer and asked for them. Digests naming anyone else are dropped and
//     counted.
//   - The reconnect loop re-joins seeds and peers that went dead or left, so
//     partitions heal even after memberlist forgot the other side.
//
// Delivery is at least once and in no particular order; lost, duplicated or
// reordered messages are fine because merges are joins. Nothing is
// acknowledged: a change that only one node holds is lost if that node's
// disk is lost before any push/pull or delta reached a peer.
//
// # Membership
//
// memberlist adds whatever member an alive message names, and a holder of
// the cluster key can send one. Gossip refuses a member whose name is not a
// valid node name, whose address is not a unicast IP address with a port,
// or that does not both speak and understand the memberlist protocol and
// delegate protocol versions this node speaks: memberlist fails every
// push/pull, and so anti-entropy, while a member of incompatible versions
// is listed, even a dead one. So all nodes of a cluster speak the same
// versions (ProtocolVersion and DelegateProtocolVersion of
// [Config].Memberlist, which crdtd leaves at memberlist's defaults). A
// refusal is one of memberlist's warnings: counted in
// Stats.TransportErrors and logged within the limits below.
//
// # Concurrency
//
// A [Node] is safe for concurrent use. memberlist callbacks only copy and
// decode bytes and hand them to bounded queues; they never call the
// Delegate or block. The Delegate is called from gossip's own goroutines,
// possibly concurrently, and never with a lock of gossip or memberlist held
// (see [Delegate]). Publish and Updated never block; when a queue is full
// the message is dropped and counted in [Stats], and anti-entropy carries
// the change instead. Shutdown stops every goroutine gossip started and
// waits for them.
//
// # Logs
//
// Gossip logs to [Config].Logger, memberlist's lines too, with the
// attribute subsystem=memberlist and memberlist's [DEBUG], [WARN] and [ERR]
// prefixes mapped to levels. Bad remote input (malformed messages, states
// the Delegate rejects, input memberlist refuses) is logged at Warn or
// Error at most once a second per kind of line; the next line of a kind
// says how many were suppressed, and the counters in [Stats] count every
// one. A repair message whose entries the Delegate rejects gets one line,
// not one per entry. Once Leave or Shutdown has begun, memberlist's errors
// about its closed sockets are logged at Debug.
//
// # Wire format
//
// Every message is one type byte followed by a payload whose first byte is
// a version (1; 2 for offers and wants, which had no sub-buckets in 1).
// Strings and byte strings are a uvarint length followed by the bytes;
// times are big-endian int64 Unix nanoseconds. Every uvarint must be in its
// shortest form, so that each message accepted has one encoding.
//
//	delta  (type 1): version, sent (0 broadcast, 1 direct, 2 reliable),
//	                 from node name, origin node name, key, origin time,
//	                 uvarint part count (1..64), parts (each a delta or a
//	                 full state, merged in order).
//	repair (type 2): version, from node name, uvarint entry count (at
//	                 most 65,536), entries of key and full state.
//	digest (type 3): version, from node name, uvarint key count, 32-byte
//	                 bitmap of non-zero buckets, then each non-zero bucket
//	                 hash as big-endian uint64. Sent only through
//	                 memberlist's LocalState/MergeRemoteState.
//	offer  (type 4): version (2), from node name, nonce (big-endian
//	                 uint64), bucket count byte (1..16), then each bucket
//	                 in ascending order: its index byte, a 32-byte bitmap
//	                 of the sub-buckets where the sender holds objects (at
//	                 least one), and the sender's hash of each of those,
//	                 big-endian uint64, non-zero. At most about 33 KiB.
//	want   (type 5): version (2), from node name, the nonce of the offer it
//	                 answers, bucket count byte (0..16), then each bucket
//	                 in ascending order: its index byte and a 32-byte bitmap
//	                 of the sub-buckets wanted (at least one), all of them
//	                 offered.
//
// Decoding is bounded: the message size is checked first, every length and
// count is checked against the bytes left before anything is allocated, and
// trailing bytes are an error. Malformed input is logged at Warn, counted
// in Stats.DecodeErrors and dropped.
//
// The digest: an object's hash ([ObjectHash]) is FNV-1a 64 over the uvarint
// key length, the key and the state bytes, finished with the splitmix64
// mixer; a node builds its digest at start from [Delegate].Hashes, without
// reading any state, and from then on hashes the states it reads (a
// changed object once it has been left alone for [Config].DigestDelay, or
// [Config].DigestMaxDelay after its first change if it keeps changing);
// the bucket is the low byte of the key's mixed FNV-1a hash, its sub-bucket the
// next byte; a bucket, and a sub-bucket, is the XOR of its objects' hashes;
// the root hashes the 256 buckets (0 when empty).
//
// Node meta (memberlist, at most 512 bytes) carries [Config].Meta: version
// byte (2), flags byte (bit 0: leaving), uvarint entry count (at most 32),
// then each entry as key (1 to 64 bytes) and value (at most 255 bytes), in
// ascending key order, so equal maps give equal bytes. Meta of version 1
// (a replica ID and an API address, then the flags) is read for its leaving
// flag only.
package gossip
