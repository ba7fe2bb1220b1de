package gossip

import (
	"time"
)

// reconnectLoop periodically re-joins seeds that are not members and peers
// that went dead or left, because memberlist stops gossiping to dead peers
// after GossipToTheDeadTime and would never heal a long partition.
func (n *Node) reconnectLoop() {
	t := time.NewTicker(n.cfg.ReconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.reconnect()
		}
	}
}

// reconnectTargets returns the addresses to re-join now and forgets peers
// gone for longer than ReconnectTimeout.
func (n *Node) reconnectTargets() []string {
	selfAddr := n.self.Addr
	now := time.Now()
	n.pmu.Lock()
	defer n.pmu.Unlock()
	alive := make(map[string]bool)
	for _, p := range n.known {
		if p.goneAt.IsZero() {
			alive[p.Addr] = true
		}
	}
	var targets []string
	add := func(a string) {
		if a != "" && a != selfAddr && !alive[a] && !contains(targets, a) {
			targets = append(targets, a)
		}
	}
	for _, s := range n.seeds {
		add(s)
	}
	for name, p := range n.known {
		switch {
		case p.goneAt.IsZero():
		case now.Sub(p.goneAt) > n.cfg.ReconnectTimeout:
			delete(n.known, name)
		default:
			add(p.Addr)
		}
	}
	return targets
}

func (n *Node) reconnect() {
	if n.leaving.Load() || n.shutdown.Load() {
		return
	}
	targets := n.reconnectTargets()
	if len(targets) == 0 {
		return
	}
	n.stats.reconnectAttempts.Add(uint64(len(targets)))
	k, err := n.ml.Join(targets)
	n.log.Debug("reconnect", "targets", targets, "reached", k, "err", err)
}
