package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/h1"
	"github.com/crdtd/crdtd/internal/store"
)

// Daemon is a running crdtd node: durable store, in-memory carts, gossip
// replication and the HTTP API. It is safe for concurrent use.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	clock   *nodeClock
	carts   *carts
	beats   *heartbeats
	guard   *clockGuard
	objects *delegate // the gossip delegate over carts and beats
	events  *broker   // wakes the event streams of changed carts
	gossip  *gossip.Node
	metrics *metrics
	replica crdt.ReplicaID
	started time.Time

	apiListener net.Listener
	conns       *connLimiter // apiListener, capped
	server      *h1.Server
	tls         *apiTLS // nil: the API serves plain HTTP

	idem        idempotency
	persistKick chan struct{}
	joined      atomic.Bool            // the join loop reached a seed
	joinErr     atomic.Pointer[string] // why the last join attempt failed, until one succeeds
	// established is set once the node is part of a cluster under its name:
	// at start for a node without seeds, else once a join succeeded without
	// a name conflict. A conflict before that is fatal (fatal); after it,
	// the other node is the one refused, and this one logs it.
	established  atomic.Bool
	conflictSeen atomic.Bool
	gossipReady  atomic.Pointer[gossip.Node] // d.gossip, for gossip's own callbacks
	fatal        chan error                  // at most one error that stops the node
	beatEvery    atomic.Int64                // the current heartbeat interval in nanoseconds (heartbeatEvery)
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	done         chan struct{}
	closeOnce    sync.Once
	closeErr     error
}

// Run starts a node and serves until ctx is done, then leaves the cluster,
// drains in-flight requests and closes the store.
func Run(ctx context.Context, cfg Config) error {
	d, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return d.Close()
	case err := <-d.fatal:
		return errors.Join(err, d.Close())
	}
}

// ErrNameTaken is returned by Run when another node is alive in the
// cluster under this node's name.
var ErrNameTaken = errors.New("node name already in use")

// nameConflict is gossip's NameConflict hook: another node is alive under
// our name. It runs with memberlist's locks held, so it only records and
// signals.
func (d *Daemon) nameConflict(ours, theirs string) {
	if d.established.Load() {
		if !d.conflictSeen.Swap(true) {
			d.log.Error("another node claims this node's name; it is refused and stays out of the cluster",
				"node", d.cfg.Name, "ours", ours, "theirs", theirs)
		}
		return
	}
	err := fmt.Errorf("%w: the name %q is already alive in the cluster at %s (this node: %s); "+
		"give every node its own --name", ErrNameTaken, d.cfg.Name, theirs, ours)
	d.conflictSeen.Store(true)
	select {
	case d.fatal <- err:
	default:
	}
}

// Start opens the data directory, loads its carts, starts gossip and the
// HTTP API, and joins the seeds in the background. It returns once the node
// serves. Close stops it.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		cfg:         cfg,
		log:         cfg.Logger,
		metrics:     newMetrics(),
		started:     time.Now(),
		persistKick: make(chan struct{}, 1),
		fatal:       make(chan error, 1),
		done:        make(chan struct{}),
	}

	if err := checkDataDirMode(cfg.DataDir, d.log); err != nil {
		return nil, err
	}
	if d.tls, err = loadAPITLS(cfg); err != nil {
		return nil, err
	}
	// Checking every page of the data file would make a restart as slow
	// as reading every cart: a large file is checked with crdtd
	// check-data, with the node stopped.
	size := store.DataFileSize(cfg.DataDir)
	skipCheck := size > store.CheckSizeLimit
	if skipCheck {
		d.log.Info("data file too large to check at start; check it with crdtd check-data while the node is stopped",
			"bytes", size, "limit", store.CheckSizeLimit)
	}
	if d.store, err = store.Open(cfg.DataDir, store.Options{Logger: cfg.Logger, SkipCheck: skipCheck}); err != nil {
		return nil, fmt.Errorf("open data directory %s: %w", cfg.DataDir, err)
	}
	d.replica = crdt.ReplicaID(d.store.ReplicaID())
	hlc, err := crdt.NewHLC(d.replica)
	if err != nil {
		d.store.Close()
		return nil, fmt.Errorf("replica id %q from %s: %w", d.replica, d.store.Path(), err)
	}
	d.clock = newNodeClock(hlc, cfg.ClockOffset, cfg.MaxDrift, d.metrics.rejected)
	d.events = newBroker(cfg.MaxEventStreams)
	if !d.store.Indexed() {
		if err := d.buildIndex(); err != nil {
			d.store.Close()
			return nil, err
		}
	}
	d.carts = newCarts(d.replica, d.clock, d.metrics, d.store, cfg.CacheSize, d.cartChanged)
	d.beats = newHeartbeats(d.replica, d.clock, d.metrics, d.isMemberReplica)
	d.guard = &clockGuard{
		clock: d.clock, beats: d.beats, maxDrift: cfg.MaxDrift, rejected: d.metrics.rejected,
		started: d.started, base: cfg.HeartbeatInterval, interval: d.beatInterval,
		hasSeeds: len(cfg.Join) > 0, joined: d.joined.Load, alone: func() bool { return !d.hasAlivePeer() },
	}
	d.objects = &delegate{carts: d.carts, beats: d.beats, metrics: d.metrics, log: d.log}
	// Changes logged after the last checkpoint: merge them again into the
	// carts as the data file holds them (merging is idempotent, so it does
	// not matter which of them the data file already holds) and fold them
	// into the data file before serving. No other cart is read: they stay
	// on disk until used.
	if err := d.store.Replay(d.carts.replay); err != nil {
		d.store.Close()
		return nil, fmt.Errorf("recover %s: %w", d.store.Path(), err)
	}
	if err := d.checkpoint(); err != nil {
		// The log still holds every change, so the node can serve; the
		// persister retries the checkpoint.
		d.log.Error("checkpoint after recovery failed; the log keeps the changes", "err", err)
	}
	// Start the clock past everything this replica ever issued: the
	// persisted high-water mark (plus one, as its logical part is not
	// stored). A cart read from the data file moves it past the cart's
	// timestamps too (carts.read), before any write to the cart.
	d.clock.restore(crdt.Timestamp{Wall: int64(d.store.HLC()) + 1})

	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		d.store.Close()
		return nil, fmt.Errorf("listen on API address %s: %w", cfg.APIAddr, err)
	}
	d.conns = newConnLimiter(ln, cfg.MaxConnections)
	d.apiListener = d.conns
	d.established.Store(len(cfg.Join) == 0)
	if d.gossip, err = d.newGossip(); err != nil {
		d.apiListener.Close()
		d.store.Close()
		return nil, err
	}
	d.gossipReady.Store(d.gossip)
	d.metrics.registerNode(d.gossip, d.store, d.carts)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.server = d.newServer()
	d.wg.Go(func() {
		ln := d.apiListener
		if d.tls != nil {
			ln = tls.NewListener(ln, d.tls.config)
		}
		if err := d.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("api server", "err", err)
		}
	})
	d.updateMemoryLimit()
	d.wg.Go(func() { d.persistLoop(runCtx) })
	d.wg.Go(func() { d.heartbeatLoop(runCtx) })
	if len(cfg.Join) > 0 {
		d.wg.Go(func() { d.joinLoop(runCtx) })
	}
	d.warnExposure(d.APIAddr(), d.GossipAddr(), time.Now())
	d.log.Info("node started", "node", cfg.Name, "replica", d.replica, "api", d.APIAddr(), "api_scheme", d.tls.scheme(),
		"gossip", d.GossipAddr(), "data", d.store.Path(), "carts", d.carts.count())
	return d, nil
}

// exposures says what leaves a node listening on apiAddr and gossipAddr
// open, for the log at start and for /v1/status: gossip in the clear beyond
// loopback (which the configuration allows only with InsecureGossip), the
// API without TLS beyond loopback, an API certificate expired or about to.
func (d *Daemon) exposures(apiAddr, gossipAddr string, now time.Time) []string {
	var w []string
	if len(d.cfg.GossipKey) == 0 && !isLoopback(gossipAddr) {
		w = append(w, "gossip is not encrypted and listens beyond loopback: anyone who reaches "+
			gossipAddr+" can rewrite carts; give --gossip-key-file")
	}
	if d.tls == nil && !isLoopback(apiAddr) {
		w = append(w, "the API listens beyond loopback without TLS: the bearer token and carts cross the network "+
			"in the clear; give --api-tls-cert-file and --api-tls-key-file")
	}
	if cw := d.tls.warning(now); cw != "" {
		w = append(w, cw)
	}
	return w
}

// warnExposure logs the node's exposures at start.
func (d *Daemon) warnExposure(apiAddr, gossipAddr string, now time.Time) {
	for _, w := range d.exposures(apiAddr, gossipAddr, now) {
		d.log.Warn(w, "api", apiAddr, "gossip", gossipAddr)
	}
}

func (d *Daemon) newGossip() (*gossip.Node, error) {
	gc, err := d.gossipConfig()
	if err != nil {
		return nil, err
	}
	n, err := gossip.New(gc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", d.cfg.GossipAddr, err)
	}
	return n, nil
}

// Keys of the node meta the daemon gives gossip (gossip.Config.Meta), which
// every peer sees in gossip.Member.Meta.
const (
	metaReplica = "replica" // the node's replica ID
	metaAPI     = "api"     // host:port of the node's HTTP API
)

// gossipConfig returns the gossip configuration the node's settings ask for.
func (d *Daemon) gossipConfig() (*gossip.Config, error) {
	gc := gossip.DefaultConfig()
	if d.cfg.Profile == ProfileLocal {
		gc = gossip.DefaultLocalConfig()
	}
	host, port, err := splitHostPort(d.cfg.GossipAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: gossip address: %v", ErrConfig, err)
	}
	mc := gc.Memberlist
	mc.Name = d.cfg.Name
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertisePort = port
	if d.cfg.AdvertiseAddr != "" {
		h, p, err := splitHostPort(d.cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("%w: advertise address: %v", ErrConfig, err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = h, p
	}
	mc.Label = d.cfg.ClusterLabel
	if len(d.cfg.GossipKey) > 0 {
		mc.SecretKey = d.cfg.GossipKey
		if len(d.cfg.GossipSecondaryKeys) > 0 {
			if mc.Keyring, err = gossip.NewKeyring(d.cfg.GossipKey, d.cfg.GossipSecondaryKeys...); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrConfig, err)
			}
		}
	}
	gc.Name = d.cfg.Name
	gc.Meta = map[string]string{metaReplica: string(d.replica), metaAPI: d.APIAddr()}
	gc.Delegate = d.objects
	gc.SkipDigest = isHeartbeatKey
	gc.NameConflict = d.nameConflict
	gc.Logger = d.log.With("component", "gossip")
	if d.cfg.TuneGossip != nil {
		d.cfg.TuneGossip(gc)
	}
	return gc, nil
}

// checkDataDirMode refuses an existing data directory that users other
// than its owner may write (they could replace the data file, or the log,
// with carts of their making), and warns when others may read it (every
// cart, and the idempotency results, are in it). A new directory is
// created 0700 by the store.
func checkDataDirMode(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return nil // the store creates it, or reports what is wrong
	}
	switch perm := fi.Mode().Perm(); {
	case perm&0o022 != 0:
		return fmt.Errorf("%w: data directory %s has mode %s: other users may change it; chmod 700 it", ErrConfig, dir, perm)
	case perm&0o005 != 0:
		log.Warn("the data directory is readable by other users; chmod 700 it", "dir", dir, "mode", perm.String())
	}
	return nil
}

func splitHostPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if h == "" {
		h = "0.0.0.0"
	}
	return h, port, nil
}

// joinLoop joins the seeds, retrying unreachable ones until one answers.
// After that, gossip's own reconnect loop keeps the seeds in reach.
func (d *Daemon) joinLoop(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for {
		// A short attempt, so that /readyz and the log say soon why no seed
		// answered; the loop retries with backoff.
		jctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		n, err := d.gossip.Join(jctx, d.cfg.Join)
		cancel()
		if n > 0 { // Join reports an error only when it reached no seed
			if d.conflictSeen.Load() {
				return // Run stops the node: its name is taken
			}
			d.established.Store(true)
			d.joined.Store(true)
			d.joinErr.Store(nil)
			d.log.Info("joined cluster", "seeds", d.cfg.Join, "reached", n)
			return
		}
		reason := joinFailure(err)
		d.joinErr.Store(&reason)
		d.log.Warn("join failed; retrying", "seeds", d.cfg.Join, "err", reason, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// joinFailure says on one line why a join reached no seed, with a hint at
// the usual causes. memberlist's own error spans several lines.
func joinFailure(err error) string {
	if err == nil {
		return "no seed answered"
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	switch lower := strings.ToLower(msg); {
	case strings.Contains(lower, "decrypt"), strings.Contains(lower, "encrypt"), strings.Contains(lower, "keyring"):
		msg += " (wrong or missing gossip key?)"
	case strings.Contains(lower, "label"):
		msg += " (different cluster label?)"
	case strings.Contains(lower, "eof"), strings.Contains(lower, "connection reset"):
		// The seed accepted the connection and dropped it: it could not
		// read what we sent.
		msg += " (the seed hung up: wrong or missing gossip key, or a different cluster label?)"
	case strings.Contains(lower, "connection refused"), strings.Contains(lower, "timeout"), strings.Contains(lower, "i/o timeout"):
		msg += " (is a seed running, and its gossip port reachable?)"
	}
	return msg
}

// readiness reports whether the node serves writes and, when it has seeds,
// has joined one; if not, why not.
func (d *Daemon) readiness() (ready bool, reason string) {
	if err := d.store.Err(); err != nil {
		return false, "the write-ahead log failed; see the node's log and restart it"
	}
	if len(d.cfg.Join) > 0 && !d.joined.Load() {
		why := "joining"
		if p := d.joinErr.Load(); p != nil {
			why = *p
		}
		return false, "not joined: no seed reachable: " + why
	}
	return true, ""
}

// isMemberReplica reports whether a cluster member's metadata names
// replica.
func (d *Daemon) isMemberReplica(replica crdt.ReplicaID) bool {
	// Gossip may deliver a beat before Start has stored d.gossip.
	g := d.gossipReady.Load()
	if g == nil {
		return false
	}
	for _, m := range g.Members() {
		if m.Meta[metaReplica] == string(replica) {
			return true
		}
	}
	return false
}

// APIAddr returns the address the HTTP API listens on.
func (d *Daemon) APIAddr() string { return d.apiListener.Addr().String() }

// GossipAddr returns the address gossip listens on.
func (d *Daemon) GossipAddr() string {
	if d.gossip == nil {
		return d.cfg.GossipAddr
	}
	return d.gossip.LocalMember().Addr
}

// ReplicaID returns this node's replica ID.
func (d *Daemon) ReplicaID() string { return string(d.replica) }

// Wait blocks until the daemon is closed and returns Close's error.
func (d *Daemon) Wait() error {
	<-d.done
	return d.closeErr
}

// Close leaves the cluster, drains in-flight requests, persists what peers
// sent and closes the store. It may be called more than once.
func (d *Daemon) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		timeout := d.cfg.ShutdownTimeout
		// Event streams never go idle by themselves: end them first, so that
		// draining the API below waits for requests, not for the timeout.
		d.events.close()
		// A leave that times out (peers stopping at the same moment, a
		// partition) is not a failure of this node: peers will mark it dead
		// instead of left. Log it and go on.
		if err := d.gossip.Leave(min(timeout, 2*time.Second)); err != nil {
			d.log.Warn("leave cluster", "err", err)
		}
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		if err := d.server.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("drain api: %w", err))
		}
		cancel()
		if err := d.gossip.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("gossip shutdown: %w", err))
		}
		d.cancel()
		d.wg.Wait()
		if err := d.checkpoint(); err != nil {
			errs = append(errs, err)
		}
		if err := d.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		d.closeErr = errors.Join(errs...)
		d.log.Info("node stopped", "node", d.cfg.Name)
		close(d.done)
	})
	return d.closeErr
}

// mergePersistDelay is the least time between two writes of carts merged
// from peers. Each write re-encodes every cart changed since the last, so a
// cart that peers keep changing is encoded at most twice a second; at 20 ms
// that was 13% of a node's CPU in a 3-node cluster under write load.
const mergePersistDelay = 500 * time.Millisecond

// cartChanged is the cart table's change hook: a change wakes the cart's
// event streams, and one merged from a peer is persisted soon (local writes
// and device syncs are durable in the write-ahead log already).
func (d *Daemon) cartChanged(id string, merged bool) {
	d.events.notify(id)
	if merged {
		d.persistSoon()
	}
}

// checkpointIfLogFull wakes the persister once the write-ahead log holds
// CheckpointLogBytes or more, so that the log, and a restart's replay of it,
// stays bounded however fast writes come.
func (d *Daemon) checkpointIfLogFull() {
	if d.logFull() {
		d.persistSoon()
	}
}

// logFull reports whether the write-ahead log holds CheckpointLogBytes or
// more: time for a checkpoint.
func (d *Daemon) logFull() bool { return d.store.LogBytes() >= d.cfg.CheckpointLogBytes }

// persistSoon wakes the persister.
func (d *Daemon) persistSoon() {
	select {
	case d.persistKick <- struct{}{}:
	default:
	}
}

// persistLoop writes carts to the data file.
//
// Carts merged from peers are written within mergePersistDelay after they
// change (persistSoon), many merges to one transaction; a crash may lose
// them, and anti-entropy brings them back from peers. Local writes are durable in the
// write-ahead log already; every CheckpointInterval, or as soon as the log
// outgrows CheckpointLogBytes, a checkpoint writes the carts they changed
// and drops the log. One goroutine does both, so a checkpoint never drops
// the log while a persist that took some of its carts is still committing.
func (d *Daemon) persistLoop(ctx context.Context) {
	tick := time.NewTicker(d.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := d.checkpoint(); err != nil {
				d.log.Error("checkpoint", "err", err)
			}
			d.updateMemoryLimit()
		case <-d.persistKick:
			if d.logFull() {
				if err := d.checkpoint(); err != nil {
					d.log.Error("checkpoint", "err", err)
				}
			} else {
				d.persistDirty()
			}
			// Batch: let merges accumulate before the next commit.
			select {
			case <-ctx.Done():
				return
			case <-time.After(mergePersistDelay):
			}
		}
	}
}

// persistDirty writes the carts changed since the last write to the data
// file, without touching the log.
func (d *Daemon) persistDirty() {
	b := d.carts.takeDirty()
	if len(b.objects) == 0 {
		return
	}
	start := time.Now()
	err := d.store.Commit(context.Background(), store.Write{Objects: b.objects, Index: b.index})
	d.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		d.log.Error("persist merged carts", "carts", len(b.objects), "err", err)
		d.carts.markDirty(b)
		return
	}
	d.carts.saved(b)
}

// buildIndex gives every cart of a data file written by an older build its
// index entry, once, before the node reads the index.
func (d *Daemon) buildIndex() error {
	start := time.Now()
	err := d.store.BuildIndex(func(key string, state []byte) (store.Entry, error) {
		c := cart.New()
		if err := c.UnmarshalBinary(state); err != nil {
			return store.Entry{}, err
		}
		return store.Entry{Hash: gossip.ObjectHash(key, state), Listed: c.HasItems()}, nil
	})
	if err != nil {
		return fmt.Errorf("index %s: %w", d.store.Path(), err)
	}
	d.log.Info("indexed the data file of an older version", "carts", d.store.Counts().Entries, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkpoint folds the write-ahead log into the data file (see
// store.Checkpoint), writing every cart changed since the last write.
func (d *Daemon) checkpoint() error {
	if d.store.LogBytes() == 0 && !d.carts.hasDirty() {
		return nil
	}
	var taken *persistBatch
	start := time.Now()
	err := d.store.CheckpointIndexed(context.Background(), func() (map[string][]byte, map[string]store.Entry) {
		taken = d.carts.takeDirty()
		return taken.objects, taken.index
	})
	d.metrics.checkpointSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		d.carts.markDirty(taken)
		n := 0
		if taken != nil {
			n = len(taken.objects)
		}
		return fmt.Errorf("checkpoint %d carts: %w", n, err)
	}
	if taken != nil {
		d.carts.saved(taken)
	}
	return nil
}
