package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a [Node]. Build one with [DefaultConfig] or
// [DefaultLocalConfig] and change fields before calling [New]; the zero value
// of a tuning field means "use the default". A Config must not be changed
// after it was passed to New.
type Config struct {
	// Name is the memberlist node name; unique in the cluster. Required.
	Name string

	// Meta is small metadata about this node that every peer sees in
	// [Member].Meta, such as the address of a service it offers (serf's
	// tags). Gossip gives the entries no meaning. It is sent in memberlist's
	// node meta, which is at most memberlist.MetaMaxSize (512) bytes, so at
	// most 32 entries, keys of 1 to 64 bytes, values of at most 255 bytes,
	// and at most 512 bytes encoded (see the package doc's wire format);
	// New refuses more. New copies the map: changing it afterwards has no
	// effect. Optional; default none.
	Meta map[string]string

	// Delegate owns the replicated objects. Required.
	Delegate Delegate

	// NameConflict, if set, is called when memberlist hears of a node alive
	// under this node's Name at another address: two nodes were given the
	// same name, and memberlist keeps only one of them in the cluster, so
	// the other is an island that replicates nothing. ours and theirs are
	// host:port gossip addresses. It runs on memberlist's goroutines with
	// its locks held: it must return at once and must not call the Node.
	// Optional.
	NameConflict func(ours, theirs string)

	// Logger receives gossip's logs and memberlist's (mapped by level).
	// Nil discards them.
	Logger *slog.Logger

	// Memberlist is the membership layer's configuration (serf's layered
	// tuning). Bind and advertise address and port, Label, SecretKey or
	// Keyring and Transport are set here. New copies it and sets Name (its
	// Name field, memberlist's default being the host name, is ignored),
	// Delegate, Events, Alive (gossip's check of every member memberlist
	// hears of, then the caller's Alive, if set) and (if unset) Logger on
	// the copy; the caller's value is not modified. All nodes of a cluster
	// must have the same ProtocolVersion and DelegateProtocolVersion (see
	// Membership in the package doc). Required; DefaultConfig fills it.
	Memberlist *memberlist.Config

	// ReconnectInterval is how often the node re-joins its seeds (when they
	// are not members) and known peers that are dead or left. memberlist
	// forgets dead peers after GossipToTheDeadTime, so without this a long
	// partition never heals. Default 15 s (local: 2 s).
	ReconnectInterval time.Duration

	// ReconnectTimeout is how long a peer that went away is remembered for
	// reconnect attempts. Default 72 h (serf's), long enough to outlive a
	// weekend-long outage of a site.
	ReconnectTimeout time.Duration

	// RepairBytesPerSecond caps the rate at which anti-entropy sends full
	// states, in bytes per second, so a catching-up peer does not starve
	// deltas and membership traffic. Repair offers (up to about 33 KiB
	// each) have a cap of the same rate of their own. Default 8 MiB/s.
	RepairBytesPerSecond int

	// MaxRepairChunk is the largest repair message in bytes (one SendReliable
	// each). Default 1 MiB; at most 8 MiB. An object whose state alone is
	// larger goes in a chunk of its own.
	MaxRepairChunk int

	// DirectPushPeers is how many alive peers a fresh local delta is also
	// sent to directly, at once: all of them in a cluster this small,
	// otherwise this many chosen at random, from which gossip relays it to
	// the rest. 0 disables; negative is invalid. Default 16: so many packets
	// per change are cheap, and they cut convergence from gossip rounds (80
	// ms mean at N=10 on the local profile) to about 2 ms, and in larger
	// clusters start the epidemic from 17 nodes instead of one (see
	// BenchmarkConvergence). Give every node the same value: in a cluster
	// of at most DirectPushPeers+1 members a node does not relay a delta
	// pushed to it, since the origin pushed it to every peer.
	DirectPushPeers int

	// DigestDelay is how long the digest entry of a changed key may lag its
	// state once the key stops changing: the local worker hashes a changed
	// key when it has been left alone for half of it, so a key changed many
	// times in a burst is encoded and hashed once. Default 500 ms, short
	// next to anti-entropy rounds (2 s or more). Negative means no delay:
	// every change is hashed at once.
	DigestDelay time.Duration

	// DigestMaxDelay is how long the digest entry of a key that keeps
	// changing may lag its state: such a key is hashed this long after its
	// first change, even though it is not quiet. Hashing costs in proportion
	// to the key's state, and the hash of a key under a stream of writes
	// is out of date again before anyone compares it: re-hashing every
	// changed key every 500 ms was 8% of a node's CPU under a stream of adds
	// to grown carts. Default 5 s.
	DigestMaxDelay time.Duration

	// SkipDigest, if set, names keys that anti-entropy leaves alone: they are
	// not hashed into the digest, so they are never compared or repaired, but
	// their deltas are broadcast and relayed like any other. It is for state
	// that every node rewrites all the time, such as liveness heartbeats: a
	// digest holding them would never agree. The Delegate should still answer
	// State for such keys, so that a newer delta of a key whose broadcast is
	// still queued replaces it with the key's state instead of piling up
	// parts until the message is too large and goes to every member by
	// SendReliable. It is called concurrently, with gossip's locks held: it
	// must be quick, must not call back into the Node, and must give every
	// key the same answer on every node, always.
	SkipDigest func(key string) bool

	// InboundWorkers is the number of goroutines that merge received deltas
	// and repairs into the Delegate. Default 4: Merge may wait for a disk
	// commit, so a little concurrency keeps throughput up.
	InboundWorkers int

	// InboundQueue is how many received messages may wait for a worker;
	// more are dropped (counted) and left to anti-entropy. Default 4096.
	InboundQueue int

	// InboundQueueBytes caps the bytes held by waiting received messages.
	// Default 64 MiB.
	InboundQueueBytes int

	// OutboundQueue is how many published local deltas may wait for the
	// broadcast worker (Publish never blocks); more are dropped (counted)
	// and left to anti-entropy. Default 4096.
	OutboundQueue int

	// ReliableQueue is how many large deltas may wait to be sent by
	// SendReliable; more are left to anti-entropy. Default 256.
	ReliableQueue int

	// DisableRepair turns off anti-entropy repair (digests are still
	// exchanged and PeerDigests filled). For tests and measurements only.
	DisableRepair bool

	// DisableDeltas turns off sending deltas (broadcast, direct and reliable);
	// only anti-entropy replicates. For tests and measurements only.
	DisableDeltas bool
}

// DefaultConfig returns the LAN profile: memberlist.DefaultLANConfig with
// PushPullInterval 10 s (anti-entropy rounds), TCPTimeout 10 s (a push/pull
// exchange or repair chunk must finish in it), DeadNodeReclaimTime 30 s
// (a restarted node may take its name back on a new address) and
// compression off: memberlist compresses each message with LZW, building a
// fresh table every time, which for small deltas saves a few bytes at 14%
// of a busy node's CPU.
func DefaultConfig() *Config {
	mc := memberlist.DefaultLANConfig()
	mc.EnableCompression = false
	mc.PushPullInterval = 10 * time.Second
	mc.TCPTimeout = 10 * time.Second
	mc.DeadNodeReclaimTime = 30 * time.Second
	return &Config{
		Memberlist:           mc,
		ReconnectInterval:    15 * time.Second,
		ReconnectTimeout:     72 * time.Hour,
		RepairBytesPerSecond: 8 << 20,
		MaxRepairChunk:       1 << 20,
		DirectPushPeers:      16,
		DigestDelay:          500 * time.Millisecond,
		DigestMaxDelay:       5 * time.Second,
		InboundWorkers:       4,
		InboundQueue:         4096,
		InboundQueueBytes:    64 << 20,
		OutboundQueue:        4096,
		ReliableQueue:        256,
	}
}

// DefaultLocalConfig returns the local profile, derived from DefaultConfig:
// memberlist.DefaultLocalConfig as base, bound to 127.0.0.1, RetransmitMult 4
// (memberlist's local default of 2 loses deliveries from 10 nodes up),
// PushPullInterval 2 s, ReconnectInterval 2 s and, as in DefaultConfig,
// compression off.
func DefaultLocalConfig() *Config {
	c := DefaultConfig()
	mc := memberlist.DefaultLocalConfig()
	mc.EnableCompression = false
	mc.BindAddr = "127.0.0.1"
	mc.RetransmitMult = 4
	mc.PushPullInterval = 2 * time.Second
	mc.DeadNodeReclaimTime = 5 * time.Second
	c.Memberlist = mc
	c.ReconnectInterval = 2 * time.Second
	return c
}

// ErrConfig is wrapped by every configuration error New returns.
var ErrConfig = errors.New("invalid gossip config")

// withDefaults returns a copy of c with zero tuning fields set to defaults.
func (c *Config) withDefaults() Config {
	out := *c
	out.Meta = maps.Clone(c.Meta)
	d := DefaultConfig()
	if out.ReconnectInterval == 0 {
		out.ReconnectInterval = d.ReconnectInterval
	}
	if out.ReconnectTimeout == 0 {
		out.ReconnectTimeout = d.ReconnectTimeout
	}
	if out.RepairBytesPerSecond == 0 {
		out.RepairBytesPerSecond = d.RepairBytesPerSecond
	}
	if out.MaxRepairChunk == 0 {
		out.MaxRepairChunk = d.MaxRepairChunk
	}
	if out.DigestDelay == 0 {
		out.DigestDelay = d.DigestDelay
	}
	if out.DigestMaxDelay == 0 {
		out.DigestMaxDelay = d.DigestMaxDelay
	}
	if out.InboundWorkers == 0 {
		out.InboundWorkers = d.InboundWorkers
	}
	if out.InboundQueue == 0 {
		out.InboundQueue = d.InboundQueue
	}
	if out.InboundQueueBytes == 0 {
		out.InboundQueueBytes = d.InboundQueueBytes
	}
	if out.OutboundQueue == 0 {
		out.OutboundQueue = d.OutboundQueue
	}
	if out.ReliableQueue == 0 {
		out.ReliableQueue = d.ReliableQueue
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out
}

// validate checks a Config after defaults were applied.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if err := checkName(c.Name); err != nil {
		return bad("Name: %v", err)
	}
	switch {
	case c.Delegate == nil:
		return bad("nil Delegate")
	case c.Memberlist == nil:
		return bad("nil Memberlist config")
	case c.Memberlist.Delegate != nil || c.Memberlist.Events != nil:
		return bad("Memberlist.Delegate and Memberlist.Events are set by gossip")
	case c.Memberlist.UDPBufferSize < 512:
		return bad("Memberlist.UDPBufferSize %d below 512", c.Memberlist.UDPBufferSize)
	case c.Memberlist.DelegateProtocolVersion < c.Memberlist.DelegateProtocolMin ||
		c.Memberlist.DelegateProtocolVersion > c.Memberlist.DelegateProtocolMax:
		// The alive check would refuse this node's own alive message.
		return bad("Memberlist.DelegateProtocolVersion %d outside [%d, %d]", c.Memberlist.DelegateProtocolVersion,
			c.Memberlist.DelegateProtocolMin, c.Memberlist.DelegateProtocolMax)
	case c.ReconnectInterval < 0 || c.ReconnectTimeout < 0:
		return bad("negative reconnect interval or timeout")
	case c.RepairBytesPerSecond < 0:
		return bad("negative RepairBytesPerSecond")
	case c.MaxRepairChunk < 4<<10 || c.MaxRepairChunk > 8<<20:
		return bad("MaxRepairChunk %d outside [4 KiB, 8 MiB]", c.MaxRepairChunk)
	case c.RepairBytesPerSecond < c.MaxRepairChunk:
		return bad("RepairBytesPerSecond %d below MaxRepairChunk %d", c.RepairBytesPerSecond, c.MaxRepairChunk)
	case c.DirectPushPeers < 0:
		return bad("negative DirectPushPeers")
	case c.DigestMaxDelay < 0:
		return bad("negative DigestMaxDelay")
	case c.InboundWorkers < 0 || c.InboundQueue < 0 || c.InboundQueueBytes < 0 || c.OutboundQueue < 0 || c.ReliableQueue < 0:
		return bad("negative queue or worker count")
	case c.InboundQueueBytes < c.MaxRepairChunk:
		return bad("InboundQueueBytes %d below MaxRepairChunk %d", c.InboundQueueBytes, c.MaxRepairChunk)
	}
	if err := checkMeta(c.Meta); err != nil {
		return bad("Meta: %v", err)
	}
	if k := c.Memberlist.SecretKey; k != nil {
		if l := len(k); l != 16 && l != 24 && l != 32 {
			return bad("Memberlist.SecretKey of %d bytes, want 16, 24 or 32", l)
		}
	}
	return nil
}
