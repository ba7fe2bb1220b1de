package daemon

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
)

// Object keys: the daemon replicates two kinds of object through gossip,
// told apart by a key prefix.
const (
	cartPrefix      = "c/"
	heartbeatPrefix = "h/"
)

func cartKey(id string) string { return cartPrefix + id }

// isHeartbeatKey reports whether a gossip key is a heartbeat's.
func isHeartbeatKey(key string) bool { return strings.HasPrefix(key, heartbeatPrefix) }

// delegate is the node's gossip.Delegate: it routes each object by its key
// prefix to the cart table or the heartbeat table, and holds no state of
// its own.
type delegate struct {
	carts   *carts
	beats   *heartbeats
	metrics *metrics
	log     *slog.Logger
}

// Merge implements gossip.Delegate.
func (d *delegate) Merge(key string, data []byte, info gossip.MergeInfo) (bool, error) {
	if id, ok := strings.CutPrefix(key, cartPrefix); ok {
		return d.carts.merge(id, data, info)
	}
	if replica, ok := strings.CutPrefix(key, heartbeatPrefix); ok {
		return d.beats.merge(replica, data)
	}
	d.metrics.decodeErrors.WithLabelValues("gossip").Inc()
	return false, fmt.Errorf("%w %q", errUnknownKey, key)
}

// State implements gossip.Delegate: the canonical encoding of a cart or of
// the latest heartbeat known here. Heartbeats are kept out of the digest
// (gossip.Config.SkipDigest: they change every few seconds on every node,
// and a digest that never agrees would make anti-entropy repair all the
// time), but gossip sends their state in place of older queued beats.
func (d *delegate) State(key string) ([]byte, bool) {
	if replica, ok := strings.CutPrefix(key, heartbeatPrefix); ok {
		return d.beats.state(crdt.ReplicaID(replica))
	}
	if id, ok := strings.CutPrefix(key, cartPrefix); ok {
		return d.carts.state(id)
	}
	return nil, false
}

// Hashes implements gossip.Delegate: the key and hash of every cart, from
// the data file's index and, for carts changed since their last write
// there, from memory; no cart is read. An error reading the index is
// logged and ends the walk: the digest then lacks some carts, which costs
// repairs from peers, not data.
func (d *delegate) Hashes(fn func(key string, hash uint64) bool) {
	if err := d.carts.eachHash(fn); err != nil {
		d.log.Error("read the cart index for the gossip digest", "err", err)
	}
}
