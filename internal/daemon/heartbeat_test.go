package daemon

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/internal/testbin"
)

func TestScaledBeat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alive int
		want  time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {10, time.Second},
		{11, 2 * time.Second}, {20, 2 * time.Second}, {21, 3 * time.Second},
		{50, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := scaledBeat(time.Second, tt.alive); got != tt.want {
			t.Errorf("scaledBeat(1s, %d) = %v, want %v", tt.alive, got, tt.want)
		}
	}
}

// TestHeartbeatsHaveStateButNoDigest checks that a node answers State for
// its own and its peers' heartbeats (gossip sends it in place of older
// queued beats) while keeping them out of the digest.
func TestHeartbeatsHaveStateButNoDigest(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	testbin.WaitFor(t, 10*time.Second, "a to hear b's heartbeat", func() bool {
		_, ok := a.objects.State(heartbeatPrefix + string(b.replica))
		return ok
	})
	for _, id := range []crdt.ReplicaID{a.replica, b.replica} {
		data, ok := a.objects.State(heartbeatPrefix + string(id))
		require.True(t, ok, "heartbeat of %s", id)
		var reg crdt.LWWRegister[int64]
		require.NoError(t, reg.UnmarshalBinary(data))
		require.Equal(t, id, reg.Timestamp().Replica)
	}
	gc, err := a.gossipConfig()
	require.NoError(t, err)
	require.NotNil(t, gc.SkipDigest)
	require.True(t, gc.SkipDigest(heartbeatPrefix+string(b.replica)), "heartbeat key in the digest")
	require.False(t, gc.SkipDigest(cartKey("alice")), "cart key left out of the digest")
}
