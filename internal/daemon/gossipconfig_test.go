package daemon

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/gossip"
)

// TestGossipConfigProfiles: the local profile takes gossip's timings for
// one machine, the LAN profile gossip's defaults.
func TestGossipConfigProfiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		profile Profile
		want    *gossip.Config
	}{
		{ProfileLocal, gossip.DefaultLocalConfig()},
		{ProfileLAN, gossip.DefaultConfig()},
	} {
		d := newTestNode(t, func(c *Config) { c.Profile, c.TuneGossip = tc.profile, nil })
		gc, err := d.gossipConfig()
		require.NoError(t, err)
		require.Equal(t, tc.want.Memberlist.PushPullInterval, gc.Memberlist.PushPullInterval, string(tc.profile))
		require.Equal(t, tc.want.Memberlist.ProbeTimeout, gc.Memberlist.ProbeTimeout, string(tc.profile))
		require.Equal(t, tc.want.ReconnectInterval, gc.ReconnectInterval, string(tc.profile))
	}
	require.NotEqual(t, gossip.DefaultLocalConfig().Memberlist.PushPullInterval, gossip.DefaultConfig().Memberlist.PushPullInterval,
		"the test needs profiles that differ")
}

// TestSplitHostPort: a port is 0-65535, and an empty host means every
// interface.
func TestSplitHostPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"127.0.0.1:0", "127.0.0.1", 0, true},
		{"127.0.0.1:65535", "127.0.0.1", 65535, true},
		{":7946", "0.0.0.0", 7946, true},
		{"[::1]:7946", "::1", 7946, true},
		{"127.0.0.1:65536", "", 0, false},
		{"127.0.0.1:-1", "", 0, false},
		{"127.0.0.1:gossip", "", 0, false},
		{"127.0.0.1", "", 0, false},
	} {
		host, port, err := splitHostPort(tc.in)
		if !tc.ok {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.host, host, tc.in)
		require.Equal(t, tc.port, port, tc.in)
	}
}
