package daemon

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/internal/testbin"
)

// testDevice is a device's replica of one cart, as the device package keeps
// it: its own replica ID and clock, the cart, and the changes not yet
// acknowledged by a node.
type testDevice struct {
	t       *testing.T
	id      crdt.ReplicaID
	clock   *crdt.HLC
	cart    *cart.Cart
	pending *cart.Cart
}

func newTestDevice(t *testing.T, id crdt.ReplicaID) *testDevice {
	t.Helper()
	clk, err := crdt.NewHLC(id)
	require.NoError(t, err)
	return &testDevice{t: t, id: id, clock: clk, cart: cart.New(), pending: cart.New()}
}

func (dv *testDevice) add(item string, n uint64) {
	dv.t.Helper()
	delta, err := dv.cart.Add(dv.clock.Now(time.Now()), item, n)
	require.NoError(dv.t, err)
	dv.pending.Merge(delta)
}

// request encodes a sync of the device's pending changes.
func (dv *testDevice) request() []byte {
	dv.t.Helper()
	b, err := (&cart.SyncRequest{Device: dv.id, Context: dv.cart.Context(), Delta: dv.pending}).MarshalBinary()
	require.NoError(dv.t, err)
	return b
}

// post sends a sync body to a node and returns the status and body.
func postSync(t *testing.T, d *Daemon, cartID string, body []byte, contentType string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+d.APIAddr()+"/v1/carts/"+cartID+"/sync", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// sync pushes the device's pending changes to d and merges the answer.
func (dv *testDevice) sync(d *Daemon, cartID string) {
	dv.t.Helper()
	code, body := postSync(dv.t, d, cartID, dv.request(), cart.SyncContentType)
	require.Equal(dv.t, 200, code, "%s", body)
	var resp cart.SyncResponse
	require.NoError(dv.t, resp.UnmarshalBinary(body))
	dv.cart.MergeDeltaFor(resp.Delta, &resp.Seen)
	dv.pending = cart.New()
}

func quantity(t *testing.T, v api.CartView, item string) int64 {
	t.Helper()
	for _, l := range v.Items {
		if l.Item == item {
			return l.Quantity
		}
	}
	return 0
}

// TestSyncExactlyOnceAcrossNodes: a device's offline add, pushed to one
// node, pushed again (its answer lost) to another, and once more to the
// first, counts once everywhere; the device learns the other device's
// change and both devices end with the nodes' cart.
func TestSyncExactlyOnceAcrossNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	phone, laptop := newTestDevice(t, "d-phone"), newTestDevice(t, "d-laptop")
	phone.add("apple", 2) // both offline
	laptop.add("pear", 1)

	req := phone.request()
	code, _ := postSync(t, a, "shared", req, cart.SyncContentType) // the answer is lost
	require.Equal(t, 200, code)
	code, _ = postSync(t, b, "shared", req, cart.SyncContentType) // the retry goes elsewhere
	require.Equal(t, 200, code)
	phone.sync(a, "shared") // and once more
	laptop.sync(b, "shared")

	for _, d := range nodes {
		testbin.WaitFor(t, 10*time.Second, "both adds on "+d.cfg.Name, func() bool {
			v := cartViewOf(t, d, "shared")
			return quantity(t, v, "apple") == 2 && quantity(t, v, "pear") == 1
		})
	}
	phone.sync(b, "shared")
	laptop.sync(a, "shared")
	want := cartViewOf(t, a, "shared")
	for name, dv := range map[string]*testDevice{"phone": phone, "laptop": laptop} {
		got := cartView("shared", dv.cart.View())
		require.Equal(t, want, got, "%s after syncing", name)
	}
}

// TestSyncRefusesHostilePushes: what a device may not do is refused with a
// clear error and changes nothing.
func TestSyncRefusesHostilePushes(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	honest := newTestDevice(t, "d-honest")
	honest.add("apple", 1)
	honest.sync(d, "victim")

	// A device relaying another device's change the node has not seen.
	other := newTestDevice(t, "d-other")
	other.add("pear", 5)
	forger := newTestDevice(t, "d-forger")
	forger.pending = other.pending

	// A device claiming a node's replica ID.
	node := newTestDevice(t, crdt.ReplicaID(d.ReplicaID()))
	node.add("kiwi", 1)

	// A push stamped an hour ahead.
	future := newTestDevice(t, "d-future")
	delta, err := future.cart.SetQuantity(future.clock.Now(time.Now().Add(time.Hour)), "fig", 1)
	require.NoError(t, err)
	future.pending = delta

	good := honest.request()
	for _, tc := range []struct {
		name, ct string
		body     []byte
		code     int
	}{
		{"foreign change", cart.SyncContentType, forger.request(), 422},
		{"node replica ID", cart.SyncContentType, node.request(), 422},
		{"timestamp beyond drift", cart.SyncContentType, future.request(), 422},
		{"truncated", cart.SyncContentType, good[:len(good)-3], 400},
		{"garbage", cart.SyncContentType, []byte("\x94\x01\xa3abc\xc6\xff\xff\xff\xff"), 400},
		{"JSON content type", "application/json", good, 415},
		{"too large", cart.SyncContentType, bytes.Repeat([]byte{0}, api.MaxSyncBodyBytes+1), 413},
	} {
		code, body := postSync(t, d, "victim", tc.body, tc.ct)
		require.Equal(t, tc.code, code, "%s: %s", tc.name, body)
	}
	v := cartViewOf(t, d, "victim")
	require.Equal(t, []api.Line{{Item: "apple", Quantity: 1}}, v.Items, "a refused push changed the cart")
	code, body := postSync(t, d, "elsewhere", forger.request(), cart.SyncContentType)
	require.Equal(t, 422, code, "%s", body)
	_, held := d.carts.counts()
	require.Equal(t, 1, held, "a refused push to a new cart left a cart behind")
}

func cartViewOf(t *testing.T, d *Daemon, id string) api.CartView {
	t.Helper()
	v, err := newTestClient(t, d, "").GetCart(t.Context(), id)
	require.NoError(t, err)
	return v
}

// TestSyncBehindIsRetryable: a device that learned a change on one node and
// removed it cannot push the remove to a node that has not seen the change
// yet: 409 sync_behind with Retry-After, nothing applied; the node it
// learned it from takes it.
func TestSyncBehindIsRetryable(t *testing.T) {
	t.Parallel()
	a, b := newTestNode(t, nil), newTestNode(t, nil) // not joined: b never hears of a's change
	_, err := newTestClient(t, a, "").AddItem(t.Context(), "c", api.AddItemRequest{Item: "apple", Quantity: 1})
	require.NoError(t, err)
	dev := newTestDevice(t, "d-1")
	dev.sync(a, "c")
	rm, err := dev.cart.Remove("apple")
	require.NoError(t, err)
	dev.pending.Merge(rm)

	req, err := http.NewRequest("POST", "http://"+b.APIAddr()+"/v1/carts/c/sync", bytes.NewReader(dev.request()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", cart.SyncContentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 409, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), string(api.CodeSyncBehind))
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	_, held := b.carts.counts()
	require.Zero(t, held, "a deferred push left a cart behind")

	dev.sync(a, "c")
	require.Empty(t, cartViewOf(t, a, "c").Items)
}

// TestSyncNamingNodeDotsRefused: a push that names more of the node's own
// changes than it made is forged: 422, nothing applied.
func TestSyncNamingNodeDotsRefused(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	_, err := newTestClient(t, d, "").AddItem(t.Context(), "c", api.AddItemRequest{Item: "apple", Quantity: 1})
	require.NoError(t, err)
	dev := newTestDevice(t, "d-1")
	dev.sync(d, "c")
	forged := newTestDevice(t, crdt.ReplicaID(d.ReplicaID()))
	for range 3 {
		forged.add("pear", 1)
	}
	rm, err := forged.cart.Remove("pear") // a context naming the node's dots 1..3
	require.NoError(t, err)
	dev.pending.Merge(rm)
	code, body := postSync(t, d, "c", dev.request(), cart.SyncContentType)
	require.Equal(t, 422, code, "%s", body)
	require.Equal(t, []api.Line{{Item: "apple", Quantity: 1}}, cartViewOf(t, d, "c").Items)
}

// BenchmarkSyncRoundTrip measures a device's sync over loopback: push a
// one-line change, receive what the device lacks. It reports the p50 and
// p99 of one round trip; the fsync of the push is in it.
//
//	go test -run '^$' -bench BenchmarkSyncRoundTrip -benchtime 500x ./internal/daemon/
func BenchmarkSyncRoundTrip(b *testing.B) {
	d := newTestNode(b, nil)
	clk, err := crdt.NewHLC("d-bench")
	if err != nil {
		b.Fatal(err)
	}
	dev := cart.New()
	hc := &http.Client{}
	url := "http://" + d.APIAddr() + "/v1/carts/bench/sync"
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		delta, err := dev.Add(clk.Now(time.Now()), fmt.Sprintf("item-%d", i%10), 1)
		if err != nil {
			b.Fatal(err)
		}
		body, err := (&cart.SyncRequest{Device: "d-bench", Context: dev.Context(), Delta: delta}).MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		resp, err := hc.Post(url, cart.SyncContentType, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("sync: %d %s %v", resp.StatusCode, answer, err)
		}
		var r cart.SyncResponse
		if err := r.UnmarshalBinary(answer); err != nil {
			b.Fatal(err)
		}
		dev.MergeDeltaFor(r.Delta, &r.Seen)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
