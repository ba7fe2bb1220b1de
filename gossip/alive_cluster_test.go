package gossip

import (
	crand "crypto/rand"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/testbin/mlwire"
)

// alivePacket is a UDP packet as a holder of the cluster key can send it:
// an alive message for name at 127.0.0.1:port with the versions vsn (nil
// for none), inside a compound message if compound, sealed with key and
// behind label's header.
func alivePacket(label string, key []byte, name string, port int, vsn []uint8, compound bool) []byte {
	msg := mlwire.Alive(name, port, vsn)
	if compound {
		msg = mlwire.Compound(msg)
	}
	return append(mlwire.LabelHeader(label), mlwire.Encrypt(key, msg, []byte(label))...)
}

// lists reports whether n lists a member called name, in any state.
func lists(n *Node, name string) bool {
	for _, m := range n.Members() {
		if m.Name == name {
			return true
		}
	}
	return false
}

// TestBogusAliveKeepsAntiEntropy sends one node of a two-node cluster one
// sealed alive packet about a member of missing or incompatible versions.
// memberlist used to add such a member, and then failed every push/pull
// merge while it was listed, dead or alive, so anti-entropy stopped. Now
// the member is refused and counted, and a change made after the packet
// still reaches the other node by anti-entropy, the only path here.
func TestBogusAliveKeepsAntiEntropy(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	if _, err := crand.Read(key); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		vsn      []uint8
		compound bool
	}{
		{"no versions", nil, false},
		{"no versions in a compound message", nil, true},
		{"three versions", []uint8{1, 5, 2}, false},
		{"protocol range without ours", []uint8{3, 3, 3, 0, 0, 0}, false},
		{"delegate speaking 200", []uint8{1, 5, 2, 0, 255, 200}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, func(_ int, cfg *Config) {
				cfg.Memberlist.SecretKey = key
				cfg.DisableDeltas = true // anti-entropy is the only path
				// Keep a bogus member listed, and alive, beyond the
				// deadlines below: memberlist probes it only after
				// ProbeInterval, and forgets it GossipToTheDeadTime after
				// it died. An attacker can simply send the packet again.
				cfg.Memberlist.ProbeInterval = time.Minute
				cfg.Memberlist.GossipToTheDeadTime = time.Minute
			})
			c.grow(2)
			c.waitMembers(2, 20*time.Second)
			c.write(0, "before", "x")
			waitFor(t, 20*time.Second, func() (bool, string) {
				return c.dels[1].has("before", "x"), "change before the packet not repaired"
			})

			ghost := c.prefix + "-ghost"
			before := c.nodes[0].Stats().TransportErrors
			conn, err := net.Dial("udp", c.addr(0))
			if err != nil {
				t.Fatal(err)
			}
			_, err = conn.Write(alivePacket(c.label, key, ghost, 1, tt.vsn, tt.compound))
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			// The packet is handled once memberlist refused it (a warning,
			// counted) or listed the member.
			waitFor(t, 10*time.Second, func() (bool, string) {
				return c.nodes[0].Stats().TransportErrors > before || lists(c.nodes[0], ghost), "alive packet not handled"
			})

			var exchanges [2]uint64
			for i := range exchanges {
				exchanges[i] = c.nodes[i].Stats().DigestExchanges
			}
			c.write(0, "after", "y")
			waitFor(t, 20*time.Second, func() (bool, string) {
				ok := c.dels[1].has("after", "y")
				why := fmt.Sprintf("change after the packet repaired: %v; bogus member listed by node 0: %v", ok, lists(c.nodes[0], ghost))
				for i := range exchanges {
					got := c.nodes[i].Stats().DigestExchanges - exchanges[i]
					ok = ok && got >= 2
					why += fmt.Sprintf("; node %d took %d digests since the packet, want 2", i, got)
				}
				return ok, why
			})
			for i, n := range c.nodes {
				if lists(n, ghost) {
					t.Errorf("node %d lists the bogus member", i)
				}
			}
		})
	}
}
