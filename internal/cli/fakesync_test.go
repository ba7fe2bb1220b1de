package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/device"
)

// fakeSyncNode answers POST /v1/carts/{cart}/sync as a node does (check the push, merge it,
// answer with what the device lacks), in memory, without durability or gossip. Scripted replies
// go out first, one per request, in place of the merge: a 409 that defers a push, a 422 that
// refuses it.
type fakeSyncNode struct {
	mu       sync.Mutex
	carts    map[string]*cart.Cart
	replies  []syncReply // scripted answers, oldest first
	requests int

	srv *httptest.Server
}

// syncReply is a scripted error answer.
type syncReply struct {
	status     int
	code       api.ErrorCode
	message    string
	retryAfter string // the Retry-After header; "" for none
}

func newFakeSyncNode(t *testing.T) *fakeSyncNode {
	t.Helper()
	n := &fakeSyncNode{carts: map[string]*cart.Cart{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/carts/{cart}/sync", n.handle)
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

func (n *fakeSyncNode) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.requests++
	if len(n.replies) > 0 {
		rep := n.replies[0]
		n.replies = n.replies[1:]
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		writeJSON(w, rep.status, api.ErrorBody{Error: api.ErrorDetail{Code: rep.code, Message: rep.message}})
		return
	}
	if r.Header.Get("Content-Type") != api.SyncContentType {
		writeJSON(w, http.StatusUnsupportedMediaType, api.ErrorBody{Error: api.ErrorDetail{Code: api.CodeUnsupportedMedia, Message: "not a sync"}})
		return
	}
	var req cart.SyncRequest
	if err := req.UnmarshalBinary(body); err != nil {
		writeJSON(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorDetail{Code: api.CodeInvalidArgument, Message: err.Error()}})
		return
	}
	id := r.PathValue("cart")
	c := n.carts[id]
	if c == nil {
		c = cart.New()
	}
	if err := c.CheckPush(req.Device, req.Delta); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, api.ErrorBody{Error: api.ErrorDetail{Code: api.CodeSyncRefused, Message: err.Error()}})
		return
	}
	c.Merge(req.Delta)
	n.carts[id] = c
	known := req.Context.Clone()
	pushed := req.Delta.Context()
	known.Merge(&pushed)
	delta, seen := c.DeltaFor(&known)
	answer, err := (&cart.SyncResponse{Delta: delta, Seen: seen}).MarshalBinary()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", api.SyncContentType)
	_, _ = w.Write(answer)
}

// script queues error answers for the next requests.
func (n *fakeSyncNode) script(replies ...syncReply) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.replies = append(n.replies, replies...)
}

// count returns how many sync requests arrived.
func (n *fakeSyncNode) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.requests
}

// view returns the node's cart id as the API shows it: "apple=2@125 bread=1@?".
func (n *fakeSyncNode) view(id string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.carts[id]
	if c == nil {
		c = cart.New()
	}
	return compact(c.View())
}

// compact renders a view compactly: "apple=2@125 bread=1@?".
func compact(v cart.View) string {
	var parts []string
	for _, l := range v.Lines {
		price := "?"
		if l.Priced {
			price = fmt.Sprint(l.UnitPriceCents)
		}
		parts = append(parts, fmt.Sprintf("%s=%d@%s", l.Item, l.Quantity, price))
	}
	return strings.Join(parts, " ")
}

func (n *fakeSyncNode) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: n.srv.URL, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (n *fakeSyncNode) clientFunc(t *testing.T) func() (*client.Client, error) {
	t.Helper()
	return func() (*client.Client, error) { return n.client(t), nil }
}

// otherDevice makes changes on a second, in-memory device and syncs them to the node: the
// node then holds changes the device under test lacks.
func (n *fakeSyncNode) otherDevice(t *testing.T, edits func(d *device.Device) error) {
	t.Helper()
	d, err := device.New(device.Config{Storage: &device.MemoryStorage{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := edits(d); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncAll(t.Context(), n.client(t)); err != nil {
		t.Fatal(err)
	}
}

// testDevicePath returns the path of a device state file in a fresh directory; no file is there
// yet.
func testDevicePath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "device.state")
}

// deviceFunc returns a factory Device function that opens the device at path.
func deviceFunc(path string) func() (*localDevice, error) {
	return func() (*localDevice, error) { return openDevice(path) }
}

// withTestDevice opens the device at path, runs fn on it and closes it.
func withTestDevice(t *testing.T, path string, fn func(d *localDevice) error) {
	t.Helper()
	d, err := openDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := fn(d); err != nil {
		t.Fatal(err)
	}
}

func cents(c int64) *int64 { return &c }

// seedDevice makes the device at path hold the fake node's carts (newFakeNode), all synced: they
// reach it from another device through a sync node, so that nothing is pending.
func seedDevice(t *testing.T, path string) {
	t.Helper()
	n := newFakeSyncNode(t)
	n.otherDevice(t, func(d *device.Device) error {
		return errors.Join(
			d.Add("alice", "apple", 2, cents(125)), d.Add("alice", "bread", 1, cents(300)),
			d.Add("bob", "pear", 1, cents(50)),
			d.Add("carol", "fig", 3, nil), d.Add("carol", "kiwi", 1, cents(40)),
		)
	})
	withTestDevice(t, path, func(d *localDevice) error {
		for _, id := range []string{"alice", "bob", "carol"} {
			if err := d.Sync(t.Context(), n.client(t), id); err != nil {
				return err
			}
		}
		return nil
	})
}
