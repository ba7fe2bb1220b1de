package gossip

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestDirectPeers pins the choice of direct-push targets: none when
// DirectPushPeers is 0, every alive peer when there are at most that many,
// else that many distinct alive peers, each peer being picked in some of
// many draws. Dead peers are never picked.
func TestDirectPeers(t *testing.T) {
	t.Parallel()
	const alive = 5
	known := make(map[string]*knownPeer)
	for i := range alive + 2 {
		name := fmt.Sprintf("p%d", i)
		p := &knownPeer{Member: Member{Name: name}, node: memberlist.Node{Name: name}}
		if i >= alive {
			p.goneAt = time.Unix(1, 0)
		}
		known[name] = p
	}
	for k := range alive + 3 {
		n := &Node{cfg: Config{DirectPushPeers: k}, known: known}
		want := min(k, alive)
		picked := make(map[string]int)
		for range 300 {
			got := n.directPeers()
			seen := make(map[string]bool)
			for _, nd := range got {
				p := known[nd.Name]
				if p == nil || !p.goneAt.IsZero() || seen[nd.Name] {
					t.Fatalf("DirectPushPeers %d: picked %q, which is not alive or was already picked", k, nd.Name)
				}
				seen[nd.Name] = true
				picked[nd.Name]++
			}
			if len(got) != want {
				t.Fatalf("DirectPushPeers %d: %d peers picked, want %d", k, len(got), want)
			}
		}
		if k > 0 && len(picked) != alive {
			t.Fatalf("DirectPushPeers %d: only %v picked in 300 draws, want all %d alive peers", k, picked, alive)
		}
	}
}
