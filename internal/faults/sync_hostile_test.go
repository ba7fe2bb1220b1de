package faults

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

// syncBody encodes a device's push: delta made by replica id, with the
// device's context ctx.
func syncBody(t *testing.T, device crdt.ReplicaID, ctx crdt.CausalContext, delta *cart.Cart) []byte {
	t.Helper()
	b, err := (&cart.SyncRequest{Device: device, Context: ctx, Delta: delta}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileSync sends a real node device pushes it must refuse: changes
// forged in another replica's name, a node's replica ID, a context naming
// thousands of replicas, timestamps an hour ahead, truncated and oversized
// bodies. Each gets its 4xx, nothing is applied, and the node keeps
// serving.
func TestHostileSync(t *testing.T) {
	needBinaries(t)
	c, _ := newHostileCluster(t, 1)
	rss0 := rssKiB(c.nodes[0].pid())
	ctx := context.Background()
	if _, err := c.client(0).AddItem(ctx, "victim", addReq("apple", 1)); err != nil {
		t.Fatal(err)
	}
	st, err := c.client(0).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock := func(id crdt.ReplicaID) *crdt.HLC {
		h, err := crdt.NewHLC(id)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	now := time.Now()

	// Another device's add, relayed by a forger.
	other := cart.New()
	stolen, err := other.Add(clock("d-other").Now(now), "pear", 5)
	if err != nil {
		t.Fatal(err)
	}
	// Changes minted under the node's own replica ID.
	nodeID := crdt.ReplicaID(st.Replica)
	posed, err := cart.New().Add(clock(nodeID).Now(now), "kiwi", 1)
	if err != nil {
		t.Fatal(err)
	}
	// A set stamped an hour ahead.
	future, err := cart.New().SetQuantity(clock("d-future").Now(now.Add(time.Hour)), "fig", 9)
	if err != nil {
		t.Fatal(err)
	}
	// A context naming more replicas than a cart may.
	var wide crdt.CausalContext
	for i := range crdt.MaxReplicas + 1 {
		wide.Add(crdt.Dot{Replica: crdt.ReplicaID("d-" + string(rune('a'+i%26)) + "x" + itoa(i)), Seq: 1})
	}
	wideDelta := cart.New()
	good := syncBody(t, "d-honest", crdt.CausalContext{}, cart.New())

	for _, tc := range []struct {
		name, ct string
		body     []byte
		want     int
	}{
		{"another device's change", api.SyncContentType, syncBody(t, "d-forger", crdt.CausalContext{}, stolen), 422},
		{"the node's replica ID", api.SyncContentType, syncBody(t, nodeID, crdt.CausalContext{}, posed), 422},
		{"a set an hour ahead", api.SyncContentType, syncBody(t, "d-future", crdt.CausalContext{}, future), 422},
		{"a context of 4,097 replicas", api.SyncContentType, syncBody(t, "d-wide", wide, wideDelta), 400},
		{"truncated", api.SyncContentType, good[:len(good)-2], 400},
		{"a bin claiming 4 GiB", api.SyncContentType, []byte("\x94\x01\xa3d-x\xc6\xff\xff\xff\xff"), 400},
		{"over 1 MiB", api.SyncContentType, bytes.Repeat([]byte{0x90}, api.MaxSyncBodyBytes+1), 413},
		{"JSON", "application/json", good, 415},
	} {
		code, body, err := c.request(ctx, "POST", c.url(0, "/v1/carts/victim/sync"), tc.body,
			map[string]string{"Content-Type": tc.ct, "Authorization": "Bearer " + c.token})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if code != tc.want {
			t.Errorf("%s: got %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	v, err := c.client(0).GetCart(ctx, "victim")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Items) != 1 || v.Items[0].Item != "apple" || v.Items[0].Quantity != 1 {
		t.Errorf("cart after refused pushes: got %+v, want only 1 apple", v.Items)
	}
	m, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("crdtd_sync_requests_total", "result=refused"); got < 8 {
		t.Errorf("crdtd_sync_requests_total{result=refused} = %v, want >= 8", got)
	}
	assertHealthy(t, c, 0, rss0)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
