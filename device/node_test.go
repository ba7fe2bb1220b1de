package device_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/client"
)

// fakeNode answers POST /v1/carts/{cart}/sync in memory, as a node does
// (check the push, merge it, answer with what the device lacks), without
// sockets, durability or gossip. It is an http.RoundTripper, so a real
// client.Client talks to it, and it can lose a request or an answer.
type fakeNode struct {
	mu    sync.Mutex
	carts map[string]*cart.Cart
	// next, when set, decides the fate of the next sync; it is cleared
	// when used.
	next fate
	// inFlight, when set, runs once the push is applied and before the
	// answer leaves: the moment a request is in flight.
	inFlight func()
}

type fate int

const (
	deliver     fate = iota
	loseRequest      // the node never sees it
	loseAnswer       // the node applies it; the answer never arrives
)

func newFakeNode() *fakeNode { return &fakeNode{carts: map[string]*cart.Cart{}} }

// client returns a client of n that does not retry, so that a lost request
// or answer reaches the device.
func (n *fakeNode) client(tb tester) *client.Client {
	tb.Helper()
	c, err := client.New(client.Config{BaseURL: "http://node.test", HTTPClient: &http.Client{Transport: n}, Retries: -1})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var errLost = errors.New("connection reset (simulated)")

func (n *fakeNode) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	f := n.next
	n.next = deliver
	hook := n.inFlight
	n.inFlight = nil
	n.mu.Unlock()
	if f == loseRequest {
		return nil, errLost
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/carts/")
	id, ok2 := strings.CutSuffix(id, "/sync")
	if !ok || !ok2 || r.Method != http.MethodPost {
		return respond(r, 404, "application/json", []byte(`{"error":{"code":"not_found","message":"no route"}}`)), nil
	}
	if r.Header.Get("Content-Type") != api.SyncContentType {
		return respond(r, 415, "application/json", []byte(`{"error":{"code":"unsupported_media_type","message":"x"}}`)), nil
	}
	status, answer := n.apply(id, body)
	if status != 200 {
		return respond(r, status, "application/json", answer), nil
	}
	if hook != nil {
		hook()
	}
	if f == loseAnswer {
		return nil, errLost
	}
	return respond(r, 200, api.SyncContentType, answer), nil
}

// apply is the node's side of a sync.
func (n *fakeNode) apply(id string, body []byte) (int, []byte) {
	var req cart.SyncRequest
	if err := req.UnmarshalBinary(body); err != nil {
		return 400, errorBody("invalid_argument", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.carts[id]
	if c == nil {
		c = cart.New()
	}
	if !strings.HasPrefix(string(req.Device), "d-") {
		return 422, errorBody("sync_refused", fmt.Errorf("device ID %q", req.Device))
	}
	if err := c.CheckPush(req.Device, req.Delta); err != nil {
		return 422, errorBody("sync_refused", err)
	}
	c.Merge(req.Delta)
	n.carts[id] = c
	known := req.Context.Clone()
	pushed := req.Delta.Context()
	known.Merge(&pushed)
	delta, seen := c.DeltaFor(&known)
	b, err := (&cart.SyncResponse{Delta: delta, Seen: seen}).MarshalBinary()
	if err != nil {
		return 500, errorBody("internal", err)
	}
	return 200, b
}

func errorBody(code string, err error) []byte {
	return fmt.Appendf(nil, `{"error":{"code":%q,"message":%q}}`, code, err.Error())
}

func respond(r *http.Request, status int, contentType string, body []byte) *http.Response {
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": []string{contentType}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r,
	}
}

// setFate decides what happens to the next sync.
func (n *fakeNode) setFate(f fate) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next = f
}

// onFlight runs f once, while the next sync is in flight.
func (n *fakeNode) onFlight(f func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.inFlight = f
}

// cart returns a copy of the node's cart id.
func (n *fakeNode) cart(id string) *cart.Cart {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c := n.carts[id]; c != nil {
		return c.Clone()
	}
	return cart.New()
}

// gossip merges every cart of o into n, as anti-entropy between nodes does.
func (n *fakeNode) gossip(o *fakeNode) {
	o.mu.Lock()
	states := map[string]*cart.Cart{}
	for id, c := range o.carts {
		states[id] = c.Clone()
	}
	o.mu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(states)) {
		c := n.carts[id]
		if c == nil {
			c = cart.New()
		}
		c.Merge(states[id])
		n.carts[id] = c
	}
}

// fakeClock is a physical clock for Config.Now that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// advance moves the clock by d, which may be negative (a clock stepped back).
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ServeHTTP serves n over a real socket (httptest), for examples.
func (n *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := n.RoundTrip(r)
	if err != nil {
		panic(http.ErrAbortHandler) // drop the connection, as a lost answer
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
