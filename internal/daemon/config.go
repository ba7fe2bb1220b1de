package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/crdtd/crdtd/gossip"
)

// Profile selects gossip timing: "lan" for real networks, "local" for a
// cluster on one machine.
type Profile string

// Profiles.
const (
	ProfileLAN   Profile = "lan"
	ProfileLocal Profile = "local"
)

// Config configures a node. The zero value of every field except DataDir
// means "use the default". A Config must not be changed after it is passed
// to Start or Run.
type Config struct {
	// Name is the node's name in the cluster; default: the host name. It is
	// not the replica ID, which the data directory owns.
	Name string
	// DataDir holds the node's durable state (required). A new directory
	// gets a fresh replica ID.
	DataDir string
	// GossipAddr is the host:port gossip binds (UDP and TCP). Default
	// 127.0.0.1:7946; port 0 picks a free port.
	GossipAddr string
	// AdvertiseAddr is the host:port peers reach us at, when it differs from
	// GossipAddr (NAT, 0.0.0.0 binds).
	AdvertiseAddr string
	// APIAddr is the host:port the HTTP API listens on. Default
	// 127.0.0.1:7070; port 0 picks a free port. A non-loopback address
	// requires APIToken.
	APIAddr string
	// Join lists host:port seeds to join at start. Unreachable seeds are
	// retried in the background, never fatal.
	Join []string
	// GossipKey, if set, encrypts gossip with AES-GCM (16, 24 or 32 bytes);
	// nodes without it can neither join, read nor inject.
	GossipKey []byte
	// GossipSecondaryKeys are further keys the node accepts gossip
	// encrypted with, but never encrypts with itself: the other key of a
	// key rotation in progress, so that nodes switched to the new key and
	// nodes not yet switched still understand each other. Each is 16, 24
	// or 32 bytes; they require GossipKey. Default none.
	GossipSecondaryKeys [][]byte
	// ClusterLabel keeps clusters sharing a network apart. Default "crdtd".
	ClusterLabel string
	// APIToken, if set, is required as "Authorization: Bearer <token>" on
	// every API request except /healthz.
	APIToken string
	// APITLSCertFile and APITLSKeyFile, if set, serve the API over HTTPS
	// (TLS 1.2 or later, HTTP/1.1) with the PEM certificate chain and
	// private key in these files, read once at start: a renewed
	// certificate takes effect when the node restarts. Both or neither.
	// Default neither, plain HTTP: fine on loopback, but beyond it the
	// bearer token and every cart cross the network readable by anyone on
	// the path, so the node then warns at start and in /v1/status.
	APITLSCertFile string
	APITLSKeyFile  string
	// APITLSClientCAFile, if set, makes the API require a client
	// certificate signed by one of the PEM CA certificates in this file
	// (mutual TLS) on every connection, /healthz included. It requires
	// APITLSCertFile. Default none: clients are told apart by APIToken
	// alone, which a client certificate adds to rather than replaces.
	APITLSClientCAFile string
	// Profile selects gossip timing. Default ProfileLAN.
	Profile Profile
	// MaxDrift is how far ahead of local time a remote timestamp may be
	// before its state is rejected. Default 1 minute: beyond that a bad clock
	// would win every last-writer-wins race for as long as it is ahead.
	MaxDrift time.Duration
	// HeartbeatInterval is how often the node publishes its consistency
	// heartbeat in a cluster of up to 10 nodes; in a larger one the node
	// beats less often, so that the whole cluster makes about 10 beats per
	// interval (see heartbeatEvery). Default 1 s.
	HeartbeatInterval time.Duration
	// ClockOffset is added to the system clock: a fault-injection knob for
	// skew tests. Default 0.
	ClockOffset time.Duration
	// Pprof serves Go's profiles under /debug/pprof/ on the API address,
	// behind the API token if one is set. Default off.
	Pprof bool
	// MaxConnections caps the API's open connections. At the cap the node
	// closes the connection idle longest to take a new one, so that a flood
	// of idle connections cannot use up its file descriptors (which gossip
	// needs too) or lock out /healthz. Default 4096.
	MaxConnections int
	// MaxEventStreams caps the event streams (GET /v1/carts/{cart}/events)
	// open at once; beyond it a new stream is answered 503 with
	// Retry-After. A stream holds a connection that is never idle, so the
	// connection cap cannot reclaim it: the default, 1024 or a quarter of
	// MaxConnections if that is less, leaves most connections to requests
	// and /healthz. It may be at most half of MaxConnections.
	MaxEventStreams int
	// EventKeepAlive is how long an event stream may go without sending
	// anything before the node sends a comment line, so that proxies and
	// load balancers do not close it as idle. Default 15 s, below the
	// 30-60 s idle timeouts common in proxies.
	EventKeepAlive time.Duration
	// InsecureGossip allows a gossip bind or advertise address beyond
	// loopback without GossipKey. Without a key anyone who reaches the
	// gossip port can join and rewrite every cart, whatever APIToken says,
	// so a node refuses that unless the operator says so here; it then
	// warns at start and in /v1/status. Default false.
	InsecureGossip bool
	// ShutdownTimeout bounds leaving the cluster and draining requests on
	// shutdown. Default 5 s.
	ShutdownTimeout time.Duration
	// CheckpointInterval is how often local writes, which are made durable
	// in the write-ahead log, are folded into the data file. Default 1 s:
	// a hot cart is then rewritten once a second however often it changes,
	// and a restart replays at most about a second of writes.
	CheckpointInterval time.Duration
	// CheckpointLogBytes starts a checkpoint early once the log holds this
	// many bytes. Default 64 MiB, which bounds the log's disk use and the
	// replay at startup under any write rate.
	CheckpointLogBytes int64
	// CacheSize is the memory, in bytes, for carts held in memory: the data
	// file holds every cart, and past this the least recently used carts
	// that are saved leave memory, to be read again on their next use.
	// Carts changed since the last checkpoint stay in memory regardless.
	// Default 256 MiB (about 150,000 two-line carts, at 1.7 KB each).
	CacheSize int64
	// SetMemoryLimit makes the node set Go's soft memory limit from the
	// cache size and the number of carts held (memlimit.go), and keep it up
	// to date, so that memory stays near what the cache allows whatever
	// GOGC is. The process-wide limit is the node's: leave it false when the
	// process runs more than one node, or the operator set GOMEMLIMIT.
	// Default false.
	SetMemoryLimit bool
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
	// Version is reported by /v1/status.
	Version string
	// TuneGossip, if set, is called on the gossip configuration before the
	// node is created (tests shorten intervals this way).
	TuneGossip func(*gossip.Config)
}

// Defaults.
const (
	DefaultGossipAddr         = "127.0.0.1:7946"
	DefaultAPIAddr            = "127.0.0.1:7070"
	DefaultClusterLabel       = "crdtd"
	DefaultMaxDrift           = time.Minute
	DefaultHeartbeatInterval  = time.Second
	DefaultShutdownTimeout    = 5 * time.Second
	DefaultMaxConnections     = 4096
	DefaultMaxEventStreams    = 1024
	DefaultEventKeepAlive     = 15 * time.Second
	DefaultCheckpointInterval = time.Second
	DefaultCheckpointLogBytes = 64 << 20
	DefaultCacheSize          = 256 << 20
)

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("invalid configuration")

func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, fmt.Errorf("%w: data directory is required", ErrConfig)
	}
	if c.Name == "" {
		c.Name = hostName()
	}
	if c.GossipAddr == "" {
		c.GossipAddr = DefaultGossipAddr
	}
	if c.APIAddr == "" {
		c.APIAddr = DefaultAPIAddr
	}
	if c.ClusterLabel == "" {
		c.ClusterLabel = DefaultClusterLabel
	}
	if c.Profile == "" {
		c.Profile = ProfileLAN
	}
	if c.MaxDrift == 0 {
		c.MaxDrift = DefaultMaxDrift
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxEventStreams == 0 {
		c.MaxEventStreams = max(1, min(DefaultMaxEventStreams, c.MaxConnections/4))
	}
	if c.EventKeepAlive == 0 {
		c.EventKeepAlive = DefaultEventKeepAlive
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.CheckpointLogBytes == 0 {
		c.CheckpointLogBytes = DefaultCheckpointLogBytes
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.CacheSize < 0 {
		return c, fmt.Errorf("%w: cache size %d is negative", ErrConfig, c.CacheSize)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Profile != ProfileLAN && c.Profile != ProfileLocal {
		return c, fmt.Errorf("%w: profile %q (want lan or local)", ErrConfig, c.Profile)
	}
	if c.MaxDrift < 0 || c.HeartbeatInterval < 0 || c.ShutdownTimeout < 0 || c.CheckpointInterval < 0 || c.CheckpointLogBytes < 0 ||
		c.EventKeepAlive < 0 {
		return c, fmt.Errorf("%w: negative duration", ErrConfig)
	}
	for _, a := range []struct{ name, addr string }{{"gossip", c.GossipAddr}, {"api", c.APIAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return c, fmt.Errorf("%w: %s address %q: %v", ErrConfig, a.name, a.addr, err)
		}
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			return c, fmt.Errorf("%w: advertise address %q: %v", ErrConfig, c.AdvertiseAddr, err)
		}
	}
	if !isLoopback(c.APIAddr) && c.APIToken == "" {
		return c, fmt.Errorf("%w: API address %s is not loopback: an API token is required (--api-token-file)", ErrConfig, c.APIAddr)
	}
	if (c.APITLSCertFile == "") != (c.APITLSKeyFile == "") {
		return c, fmt.Errorf("%w: API TLS needs both a certificate and a key file (--api-tls-cert-file, --api-tls-key-file)", ErrConfig)
	}
	if c.APITLSClientCAFile != "" && c.APITLSCertFile == "" {
		return c, fmt.Errorf("%w: an API client CA file requires API TLS: give --api-tls-cert-file and --api-tls-key-file", ErrConfig)
	}
	if c.MaxConnections < 0 {
		return c, fmt.Errorf("%w: max connections %d is negative", ErrConfig, c.MaxConnections)
	}
	if c.MaxEventStreams < 0 {
		return c, fmt.Errorf("%w: max event streams %d is negative", ErrConfig, c.MaxEventStreams)
	}
	if c.MaxEventStreams > max(1, c.MaxConnections/2) {
		return c, fmt.Errorf("%w: max event streams %d is more than half of max connections %d: "+
			"a stream holds its connection, and requests need the rest", ErrConfig, c.MaxEventStreams, c.MaxConnections)
	}
	if len(c.GossipKey) == 0 && !c.InsecureGossip {
		for _, a := range []struct{ name, addr string }{{"bind", c.GossipAddr}, {"advertise", c.AdvertiseAddr}} {
			if a.addr != "" && !isLoopback(a.addr) {
				return c, fmt.Errorf("%w: gossip %s address %s is not loopback and gossip has no key: "+
					"anyone who reaches it could rewrite every cart; give --gossip-key-file "+
					"(crdtd keygen makes one), or --insecure-gossip to accept the risk", ErrConfig, a.name, a.addr)
			}
		}
	}
	if n := len(c.GossipKey); n != 0 && n != 16 && n != 24 && n != 32 {
		return c, fmt.Errorf("%w: gossip key is %d bytes, want 16, 24 or 32", ErrConfig, n)
	}
	if len(c.GossipSecondaryKeys) > 0 && len(c.GossipKey) == 0 {
		return c, fmt.Errorf("%w: secondary gossip keys without a primary gossip key", ErrConfig)
	}
	for i, k := range c.GossipSecondaryKeys {
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return c, fmt.Errorf("%w: secondary gossip key %d is %d bytes, want 16, 24 or 32", ErrConfig, i+1, n)
		}
	}
	return c, nil
}

// isLoopback reports whether host:port names only loopback interfaces.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
