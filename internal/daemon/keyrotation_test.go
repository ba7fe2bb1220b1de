package daemon

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/internal/testbin"
)

// TestGossipKeyRotation checks the three steps of a key rotation pairwise:
// at every step a node switched already and a node not switched yet share a
// key both ways, so they join and replicate; skipping the first step (one
// node encrypts with a key the other does not accept) splits them.
func TestGossipKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	type keys struct {
		primary   []byte
		secondary [][]byte
	}
	var (
		start    = keys{primary: oldKey}
		step1    = keys{primary: oldKey, secondary: [][]byte{newKey}} // accept the new key
		step2    = keys{primary: newKey, secondary: [][]byte{oldKey}} // encrypt with it
		step3    = keys{primary: newKey}                              // drop the old key
		tooEarly = step2
	)
	tests := []struct {
		name     string
		seed     keys
		joiner   keys
		wantJoin bool
	}{
		{"step 1 next to the old key", start, step1, true},
		{"step 1 seeded by the old key", step1, start, true},
		{"step 2 next to step 1", step1, step2, true},
		{"step 1 seeded by step 2", step2, step1, true},
		{"step 3 next to step 2", step2, step3, true},
		{"step 2 seeded by step 3", step3, step2, true},
		{"the new key before every node accepts it", start, tooEarly, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			label := fmt.Sprintf("rotation-%d-%d", time.Now().UnixNano(), i)
			a := newTestNode(t, func(c *Config) {
				c.ClusterLabel = label
				c.GossipKey, c.GossipSecondaryKeys = tt.seed.primary, tt.seed.secondary
			})
			b := newTestNode(t, func(c *Config) {
				c.ClusterLabel = label
				c.GossipKey, c.GossipSecondaryKeys = tt.joiner.primary, tt.joiner.secondary
				c.Join = []string{a.GossipAddr()}
			})
			if !tt.wantJoin {
				testbin.WaitFor(t, 10*time.Second, "the joiner to report its failed join", func() bool {
					_, body := doRequest(t, b, "GET", "/readyz", "", nil)
					return strings.Contains(body, "gossip key")
				})
				require.Len(t, a.gossip.Members(), 1, "the seed let in a node whose messages it cannot read")
				return
			}
			_, err := newTestClient(t, a, "").AddItem(t.Context(), "alice", api.AddItemRequest{Item: "from-a", Quantity: 1})
			require.NoError(t, err)
			_, err = newTestClient(t, b, "").AddItem(t.Context(), "alice", api.AddItemRequest{Item: "from-b", Quantity: 1})
			require.NoError(t, err)
			testbin.WaitFor(t, 15*time.Second, "both nodes to hold both lines", func() bool {
				return len(cartViewOf(t, a, "alice").Items) == 2 && len(cartViewOf(t, b, "alice").Items) == 2
			})
		})
	}
}

func TestGossipSecondaryKeysValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		f    func(*Config)
		want string
	}{
		{"secondary without primary", func(c *Config) {
			c.GossipSecondaryKeys = [][]byte{bytes.Repeat([]byte{1}, 16)}
		}, "without a primary"},
		{"secondary of 10 bytes", func(c *Config) {
			c.GossipKey, c.GossipSecondaryKeys = bytes.Repeat([]byte{1}, 16), [][]byte{bytes.Repeat([]byte{2}, 10)}
		}, "secondary gossip key 1 is 10 bytes"},
	} {
		cfg := testConfig(t, "validation")
		tc.f(&cfg)
		_, err := cfg.withDefaults()
		require.ErrorIs(t, err, ErrConfig, tc.name)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
}
