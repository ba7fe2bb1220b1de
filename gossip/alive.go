package gossip

import (
	"fmt"
	"net"
	"slices"

	"github.com/hashicorp/memberlist"
)

// mlAlive is memberlist's AliveDelegate: memberlist asks it about every
// alive message (a UDP gossip packet, or a member listed in a push/pull)
// before adding or updating the member, and ignores the message if it
// returns an error. Once an AliveDelegate is set, memberlist itself ignores
// alive messages with fewer than six versions; this check sees the rest.
//
// Without it, memberlist adds a member whose alive message carries no
// protocol versions with versions 0, and from then on fails the merge of
// every push/pull this node takes part in ("protocol version (0) is
// incompatible"), dead members included, so anti-entropy stops until
// memberlist forgets the member: one small packet from anyone holding the
// cluster key was enough. A version range that is valid but narrower than
// what the cluster speaks does the same. So a member must speak exactly the
// protocol and delegate versions this node speaks and understand them: as
// every member of a cluster then shares one version that all of them
// speak, memberlist's check of the whole member list always passes.
//
// memberlist logs each refusal at Warn with the error returned, so refusals
// are counted in Stats.TransportErrors and logged at most once a second per
// kind of line, like the other input memberlist refuses; the check itself
// neither logs nor counts. memberlist calls it with its node lock held: it
// must not call memberlist or the Node.
type mlAlive struct {
	// pcur and dcur are the memberlist protocol and delegate protocol
	// versions this node speaks (Config.Memberlist).
	pcur, dcur uint8
	// next is the caller's own Config.Memberlist.Alive, asked only about
	// the members gossip accepts; nil if none.
	next memberlist.AliveDelegate
}

var _ memberlist.AliveDelegate = (*mlAlive)(nil)

// newAliveCheck returns the AliveDelegate for a node whose memberlist
// configuration is mc, wrapping mc.Alive if set.
func newAliveCheck(mc *memberlist.Config) *mlAlive {
	return &mlAlive{pcur: mc.ProtocolVersion, dcur: mc.DelegateProtocolVersion, next: mc.Alive}
}

// NotifyAlive implements memberlist.AliveDelegate: it refuses nd if
// checkAlive does, and otherwise asks the caller's AliveDelegate, if any.
func (a *mlAlive) NotifyAlive(nd *memberlist.Node) error {
	if err := a.checkAlive(nd); err != nil {
		return err
	}
	if a.next != nil {
		return a.next.NotifyAlive(nd)
	}
	return nil
}

// checkAlive reports why nd cannot be a member of this node's cluster, or
// nil. The error text leads with a fixed phrase and holds only numbers from
// the peer, never a string it chose, so that memberlist's lines about it
// fall into a few kinds for the log limit (shapeOf).
func (a *mlAlive) checkAlive(nd *memberlist.Node) error {
	if err := checkName(nd.Name); err != nil {
		return fmt.Errorf("invalid member: %v", err)
	}
	if err := checkAddr(nd.Addr, nd.Port); err != nil {
		return fmt.Errorf("invalid member address: %v", err)
	}
	// memberlist refuses a minimum of 0 (no memberlist has such a version)
	// before asking; refuse it here as well, so that the rule stands alone.
	if nd.PMin < memberlist.ProtocolVersionMin || !speaks(nd.PMin, nd.PMax, nd.PCur, a.pcur) {
		return fmt.Errorf("protocol versions %d..%d speaking %d, want a range holding %d and speaking it",
			nd.PMin, nd.PMax, nd.PCur, a.pcur)
	}
	if !speaks(nd.DMin, nd.DMax, nd.DCur, a.dcur) {
		return fmt.Errorf("delegate protocol versions %d..%d speaking %d, want a range holding %d and speaking it",
			nd.DMin, nd.DMax, nd.DCur, a.dcur)
	}
	return nil
}

// speaks reports whether a member that understands versions lo to hi and
// speaks cur speaks version v and understands it. "cur within lo and hi"
// alone is not enough: memberlist wants every member to speak a version
// that every alive member understands, so a member that understands only
// 3 to 5 fails every push/pull of a cluster speaking 2, as one of version
// 0 does; and two members that each pass a looser rule, one understanding
// 2 to 5 and one speaking 1, fail it together.
func speaks(lo, hi, cur, v uint8) bool {
	return cur == v && lo <= v && v <= hi
}

// checkAddr reports why ip and port cannot be a member's gossip address, or
// nil. A real node advertises the unicast address it receives on (memberlist
// resolves a wildcard bind to one); memberlist would probe and gossip to any
// other, and a packet to 0.0.0.0 reaches this very host.
func checkAddr(ip net.IP, port uint16) error {
	switch {
	case len(ip) != net.IPv4len && len(ip) != net.IPv6len:
		return fmt.Errorf("IP address of %d bytes", len(ip))
	case ip.IsUnspecified(), ip.IsMulticast(), ip.Equal(net.IPv4bcast):
		return fmt.Errorf("%v is not a unicast address", ip)
	case port == 0:
		return fmt.Errorf("port 0")
	}
	return nil
}

// isMember reports whether ml lists a member called name that is not dead.
// New uses it to see that memberlist accepted the node's own alive message,
// since memberlist.LocalNode panics when it did not.
func isMember(ml *memberlist.Memberlist, name string) bool {
	return slices.ContainsFunc(ml.Members(), func(nd *memberlist.Node) bool { return nd.Name == name })
}
