package gossip

import "sync/atomic"

// Stats is a snapshot of a node's counters since New. All counts are
// monotonic. Channels: broadcast (the gossip queue, counted per transmit),
// direct (fresh local deltas pushed straight to peers), reliable (large
// deltas sent by TCP) and repair (anti-entropy full states).
type Stats struct {
	DeltasSentBroadcast, BytesSentBroadcast uint64
	DeltasSentDirect, BytesSentDirect       uint64
	DeltasSentReliable, BytesSentReliable   uint64
	ObjectsSentRepair, BytesSentRepair      uint64

	DeltasRecvBroadcast, BytesRecvBroadcast uint64
	DeltasRecvDirect, BytesRecvDirect       uint64
	DeltasRecvReliable, BytesRecvReliable   uint64
	ObjectsRecvRepair, BytesRecvRepair      uint64

	// Published counts local deltas handed to Publish.
	Published uint64
	// Merged counts received deltas or states that changed local state;
	// Relayed counts received deltas queued again because of that.
	Merged, Relayed uint64
	// Combined counts queued broadcasts replaced by the join of the queued
	// and a new delta (carried together or as full state).
	Combined uint64

	// DigestExchanges counts remote digests received (push/pull rounds);
	// DigestsInSync those whose root equalled ours. DigestsRejected counts
	// digests dropped because the sender they name is not an alive member.
	DigestExchanges, DigestsInSync, DigestsRejected uint64
	// RepairOffers counts offers of differing buckets sent to peers,
	// RepairWants their answers (each naming the buckets the peer wants, if
	// any), and RepairRejected offers and wants dropped: from a sender that
	// is not an alive member, or a want that answers no pending offer of
	// ours.
	RepairOffers, RepairWants, RepairRejected uint64
	// RepairRounds counts repair jobs run, DivergentBuckets the buckets they
	// covered, DivergentSubBuckets the sub-buckets of those whose objects
	// they sent, and KeysRepaired received repair objects that changed
	// local state. RepairsSkipped counts repairs not started because one
	// was already offered, queued or running for that peer, or a queue was
	// full.
	RepairRounds, DivergentBuckets, DivergentSubBuckets, KeysRepaired, RepairsSkipped uint64
	// BytesSentControl counts the bytes of the offers and wants sent.
	BytesSentControl uint64

	// DecodeErrors counts malformed messages dropped; MergeErrors counts
	// bytes the Delegate rejected; SendErrors counts failed sends.
	DecodeErrors, MergeErrors, SendErrors uint64
	// DroppedInbound, DroppedOutbound and DroppedReliable count messages
	// dropped because a bounded queue was full; DroppedBroadcasts counts
	// broadcasts pruned from the transmit queue. Anti-entropy repairs all.
	DroppedInbound, DroppedOutbound, DroppedReliable, DroppedBroadcasts uint64
	// ReconnectAttempts counts re-join attempts of the reconnect loop.
	ReconnectAttempts uint64
	// ReliableQueued counts deltas too large for a packet that were handed
	// to the reliable-send worker.
	ReliableQueued uint64
	// TransportErrors counts the warnings and errors memberlist reported,
	// whether or not the log limit let the line through: mostly input it
	// refused before gossip saw it (a wrong key or label, a malformed
	// packet or stream, an alive message about a member gossip refuses),
	// also failed sends to unreachable peers.
	TransportErrors uint64
}

// stats holds the live counters; fields mirror Stats.
type stats struct {
	deltasSentBroadcast, bytesSentBroadcast atomic.Uint64
	deltasSentDirect, bytesSentDirect       atomic.Uint64
	deltasSentReliable, bytesSentReliable   atomic.Uint64
	objectsSentRepair, bytesSentRepair      atomic.Uint64

	deltasRecvBroadcast, bytesRecvBroadcast atomic.Uint64
	deltasRecvDirect, bytesRecvDirect       atomic.Uint64
	deltasRecvReliable, bytesRecvReliable   atomic.Uint64
	objectsRecvRepair, bytesRecvRepair      atomic.Uint64

	published, merged, relayed, combined atomic.Uint64

	digestExchanges, digestsInSync, digestsRejected     atomic.Uint64
	repairOffers, repairWants, repairRejected           atomic.Uint64
	repairRounds, divergentBuckets, divergentSubBuckets atomic.Uint64
	keysRepaired, repairsSkipped, bytesSentControl      atomic.Uint64

	decodeErrors, mergeErrors, sendErrors                               atomic.Uint64
	droppedInbound, droppedOutbound, droppedReliable, droppedBroadcasts atomic.Uint64
	reconnectAttempts, reliableQueued                                   atomic.Uint64
	transportErrors                                                     atomic.Uint64
}

func (s *stats) snapshot() Stats {
	return Stats{
		DeltasSentBroadcast: s.deltasSentBroadcast.Load(), BytesSentBroadcast: s.bytesSentBroadcast.Load(),
		DeltasSentDirect: s.deltasSentDirect.Load(), BytesSentDirect: s.bytesSentDirect.Load(),
		DeltasSentReliable: s.deltasSentReliable.Load(), BytesSentReliable: s.bytesSentReliable.Load(),
		ObjectsSentRepair: s.objectsSentRepair.Load(), BytesSentRepair: s.bytesSentRepair.Load(),

		DeltasRecvBroadcast: s.deltasRecvBroadcast.Load(), BytesRecvBroadcast: s.bytesRecvBroadcast.Load(),
		DeltasRecvDirect: s.deltasRecvDirect.Load(), BytesRecvDirect: s.bytesRecvDirect.Load(),
		DeltasRecvReliable: s.deltasRecvReliable.Load(), BytesRecvReliable: s.bytesRecvReliable.Load(),
		ObjectsRecvRepair: s.objectsRecvRepair.Load(), BytesRecvRepair: s.bytesRecvRepair.Load(),

		Published: s.published.Load(), Merged: s.merged.Load(), Relayed: s.relayed.Load(), Combined: s.combined.Load(),

		DigestExchanges: s.digestExchanges.Load(), DigestsInSync: s.digestsInSync.Load(), DigestsRejected: s.digestsRejected.Load(),
		RepairOffers: s.repairOffers.Load(), RepairWants: s.repairWants.Load(), RepairRejected: s.repairRejected.Load(),
		RepairRounds: s.repairRounds.Load(), DivergentBuckets: s.divergentBuckets.Load(),
		DivergentSubBuckets: s.divergentSubBuckets.Load(), BytesSentControl: s.bytesSentControl.Load(),
		KeysRepaired: s.keysRepaired.Load(), RepairsSkipped: s.repairsSkipped.Load(),

		DecodeErrors: s.decodeErrors.Load(), MergeErrors: s.mergeErrors.Load(), SendErrors: s.sendErrors.Load(),
		DroppedInbound: s.droppedInbound.Load(), DroppedOutbound: s.droppedOutbound.Load(),
		DroppedReliable: s.droppedReliable.Load(), DroppedBroadcasts: s.droppedBroadcasts.Load(),
		ReconnectAttempts: s.reconnectAttempts.Load(), ReliableQueued: s.reliableQueued.Load(),
		TransportErrors: s.transportErrors.Load(),
	}
}
