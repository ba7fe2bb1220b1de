package daemon

import (
	"fmt"
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
// its state for now.
func (d *delegate) Hashes(fn func(key string, hash uint64) bool) {
	d.carts.eachID(func(id string) bool {
		data, ok := d.carts.state(id)
		if !ok {
			return true
		}
		key := cartKey(id)
		return fn(key, gossip.ObjectHash(key, data))
	})
}
