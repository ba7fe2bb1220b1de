package gossip

import "github.com/hashicorp/memberlist"

// mlConflict is memberlist's ConflictDelegate: it reports a node alive
// under our own name at another address to Config.NameConflict.
// memberlist also reports conflicts between two other nodes; those are not
// ours to act on, and memberlist logs them.
type mlConflict struct {
	name   string
	report func(ours, theirs string)
}

// NotifyConflict implements memberlist.ConflictDelegate. memberlist calls
// it with its node lock held.
func (c *mlConflict) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name != c.name {
		return
	}
	c.report(existing.Address(), other.Address())
}
