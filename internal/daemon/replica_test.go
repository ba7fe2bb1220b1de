package daemon

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/internal/store"
)

// TestResetReplicaID: a node started on a data directory whose replica ID
// was reset keeps its carts and mints the dots of its next write under the
// new ID, never under the old one.
func TestResetReplicaID(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "reset-replica")
	d, err := Start(context.Background(), cfg)
	require.NoError(t, err)
	c := newTestClient(t, d, "")
	_, err = c.AddItem(t.Context(), "alice", api.AddItemRequest{Item: "apple", Quantity: 2})
	require.NoError(t, err)
	before := cartViewOf(t, d, "alice")
	oldID := crdt.ReplicaID(d.ReplicaID())
	require.NoError(t, d.Close())

	_, newStr, err := store.ResetReplicaID(cfg.DataDir, store.Options{})
	require.NoError(t, err)
	newID := crdt.ReplicaID(newStr)

	r, err := Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	require.Equal(t, newID, crdt.ReplicaID(r.ReplicaID()), "replica ID after the reset")
	require.NotEqual(t, oldID, newID)
	require.Equal(t, before, cartViewOf(t, r, "alice"), "cart after the reset")

	oldSeq := maxSeq(t, r, "alice", oldID)
	rc := newTestClient(t, r, "")
	v, err := rc.AddItem(t.Context(), "alice", api.AddItemRequest{Item: "pear", Quantity: 1})
	require.NoError(t, err)
	require.Len(t, v.Items, 2, "the write after the reset replaced a line: %+v", v.Items)
	require.Equal(t, oldSeq, maxSeq(t, r, "alice", oldID), "the write after the reset minted a dot of the old replica ID")
	require.Positive(t, maxSeq(t, r, "alice", newID), "the write after the reset minted no dot of the new replica ID")
}

// maxSeq returns the highest sequence number of replica's dots in a cart.
func maxSeq(t *testing.T, d *Daemon, id string, replica crdt.ReplicaID) uint64 {
	t.Helper()
	b, ok := d.carts.state(id)
	require.True(t, ok, "cart %s is empty", id)
	var c cart.Cart
	require.NoError(t, c.UnmarshalBinary(b))
	return c.MaxSeq(replica)
}

// TestCartStateOnlyWhenHeld: the state offered to a peer's repair exists
// only for a cart this node holds something of.
func TestCartStateOnlyWhenHeld(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	_, ok := d.carts.state("nobody")
	require.False(t, ok, "state of a cart never written")
	_, err := newTestClient(t, d, "").AddItem(t.Context(), "alice", api.AddItemRequest{Item: "pear", Quantity: 1})
	require.NoError(t, err)
	require.Positive(t, maxSeq(t, d, "alice", d.carts.self))
}
