package daemon

import (
	"errors"
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

// TestJoinFailureHints: a failed join's reason is one line, with a hint at
// the usual cause when the error names one.
func TestJoinFailureHints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "no seed answered"},
		{errors.New("1 error occurred:\n\t* No installed keys could decrypt the message\n\n"),
			"1 error occurred: * No installed keys could decrypt the message (wrong or missing gossip key?)"},
		{errors.New("remote state is encrypted and encryption is not configured"),
			"remote state is encrypted and encryption is not configured (wrong or missing gossip key?)"},
		{errors.New("unexpected label"), "unexpected label (different cluster label?)"},
		{errors.New("read: EOF"), "read: EOF (the seed hung up: wrong or missing gossip key, or a different cluster label?)"},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"),
			"dial tcp 127.0.0.1:1: connect: connection refused (is a seed running, and its gossip port reachable?)"},
		{errors.New("something else"), "something else"},
	} {
		require.Equal(t, tc.want, joinFailure(tc.err))
	}
}
