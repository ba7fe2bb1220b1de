package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

type outcome int

const (
	outcomeOK      outcome = iota // 2xx: acknowledged
	outcomeFail                   // 4xx: definitely not applied
	outcomeUnknown                // timeout, reset, 5xx: may have been applied, at any time
)

func (o outcome) String() string {
	return [...]string{"ok", "fail", "unknown"}[o]
}

// maxKeptAnswer is the largest answer a node keeps with its idempotency
// key (the daemon's rule; a larger one replays as the current view).
const maxKeptAnswer = 4 << 10

// op is one invocation in the history.
type op struct {
	id       int
	node     int
	kind     string // add, set, remove, clear, price
	cart     string
	item     string // "" for clear
	qty      int64  // add: n; set: q
	price    *int64
	key      string
	invoke   time.Time
	complete time.Time // zero unless the outcome is known
	outcome  outcome
	view     *api.CartView // the acknowledged response
	err      string
	client   bool // sent through package client (its own key and retries)
}

// history is the concurrent log of every op.
type history struct {
	// mu guards ops.
	mu  sync.Mutex
	ops []*op

	acked, failed, unknown atomic.Int64
	replays, replayBad     atomic.Int64
	replayErrs             atomic.Int64
	badReplay              atomic.Value // string
}

func (h *history) add(o *op) {
	h.mu.Lock()
	o.id = len(h.ops)
	h.ops = append(h.ops, o)
	h.mu.Unlock()
	switch o.outcome {
	case outcomeOK:
		h.acked.Add(1)
	case outcomeFail:
		h.failed.Add(1)
	default:
		h.unknown.Add(1)
	}
}

func (h *history) snapshot() []*op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*op(nil), h.ops...)
}

// slot is one register-workload item: a base name whose generations live for
// a few ops and are then retired by an acknowledged remove on their home node.
type slot struct {
	// mu is read-locked by every op on the slot and locked by retirement, so
	// a retiring remove starts after every op of the generation completed.
	mu   sync.RWMutex
	cart string
	base string
	gen  int
	home int
	left atomic.Int64
}

func (s *slot) item() string { return fmt.Sprintf("%s-g%d", s.base, s.gen) }

// workload drives random cart ops against random nodes.
type workload struct {
	c        *cluster
	h        *history
	setCarts int
	slots    []*slot
	seq      atomic.Int64
	nodes    int
	phones   []*phone  // device replicas (devices_test.go)
	dev      *devStats // what they did
}

const (
	setCartPrefix = "s-"
	regCartPrefix = "r-"
)

func newWorkload(c *cluster, h *history, rnd *rand.Rand) *workload {
	w := &workload{c: c, h: h, setCarts: 16, nodes: len(c.nodes), dev: &devStats{}}
	for i := range numPhones {
		p, err := newPhone(i)
		if err != nil {
			c.t.Fatalf("new device: %v", err)
		}
		w.phones = append(w.phones, p)
	}
	for ci := range 4 {
		for _, base := range []string{"apple", "pear", "plum", "fig"} {
			s := &slot{cart: fmt.Sprintf("%s%d", regCartPrefix, ci), base: base, home: rnd.IntN(w.nodes)}
			s.left.Store(int64(3 + rnd.IntN(6)))
			w.slots = append(w.slots, s)
		}
	}
	return w
}

// run runs one worker until ctx is done.
func (w *workload) run(ctx context.Context, worker int, rnd *rand.Rand) {
	for ctx.Err() == nil {
		switch r := rnd.IntN(100); {
		case r < devOpShare:
			w.deviceOp(ctx, rnd)
		case r < 55:
			w.setAdd(ctx, worker, rnd)
		default:
			w.register(ctx, worker, rnd)
		}
	}
}

func (w *workload) key(worker int) string {
	return fmt.Sprintf("w%d-%d-%d", worker, w.seq.Add(1), time.Now().UnixNano()%1e6)
}

// setAdd adds a fresh, never removed item to a set cart.
func (w *workload) setAdd(ctx context.Context, worker int, rnd *rand.Rand) {
	o := &op{kind: "add", node: rnd.IntN(w.nodes), cart: fmt.Sprintf("%s%02d", setCartPrefix, rnd.IntN(w.setCarts)),
		item: fmt.Sprintf("i%d-%d", worker, w.seq.Add(1)), qty: int64(1 + rnd.IntN(3))}
	if rnd.IntN(2) == 0 {
		p := int64(rnd.IntN(1000))
		o.price = &p
	}
	if rnd.IntN(4) == 0 {
		w.viaClient(ctx, o)
	} else {
		w.raw(ctx, o, rnd)
	}
}

// register runs one op on a register slot, and retires its generation when
// its ops are used up.
func (w *workload) register(ctx context.Context, worker int, rnd *rand.Rand) {
	s := w.slots[rnd.IntN(len(w.slots))]
	if !s.mu.TryRLock() {
		return
	}
	o := &op{cart: s.cart, item: s.item(), node: s.home}
	if rnd.IntN(4) == 0 {
		o.node = rnd.IntN(w.nodes)
	}
	switch r := rnd.IntN(100); {
	case r < 40:
		o.kind, o.qty = "add", int64(1+rnd.IntN(3))
		if rnd.IntN(3) == 0 {
			p := int64(rnd.IntN(500))
			o.price = &p
		}
	case r < 65:
		o.kind, o.qty = "set", int64(rnd.IntN(6))
	case r < 80:
		o.kind = "price"
		p := int64(rnd.IntN(500))
		o.price = &p
	case r < 97:
		o.kind = "remove"
	default:
		o.kind, o.item = "clear", ""
	}
	o.key = w.key(worker)
	w.raw(ctx, o, rnd)
	s.mu.RUnlock()
	if s.left.Add(-1) == 0 {
		w.retire(ctx, worker, s, rnd)
	}
}

// retire removes the slot's current item on its home node until
// acknowledged, then moves the slot to a new generation and home.
func (w *workload) retire(ctx context.Context, worker int, s *slot, rnd *rand.Rand) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 5 {
		o := &op{kind: "remove", cart: s.cart, item: s.item(), node: s.home, key: w.key(worker)}
		w.raw(ctx, o, rnd)
		if o.outcome == outcomeOK || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.gen++
	s.home = rnd.IntN(w.nodes)
	s.left.Store(int64(3 + rnd.IntN(6)))
}

func (o *op) request() (method, path string, body []byte) {
	switch o.kind {
	case "add":
		body, _ = json.Marshal(api.AddItemRequest{Item: o.item, Quantity: o.qty, UnitPriceCents: o.price})
		return http.MethodPost, "/v1/carts/" + o.cart + "/items", body
	case "set":
		q := o.qty
		body, _ = json.Marshal(api.SetItemRequest{Quantity: &q})
		return http.MethodPut, "/v1/carts/" + o.cart + "/items/" + o.item, body
	case "price":
		body, _ = json.Marshal(api.SetItemRequest{UnitPriceCents: o.price})
		return http.MethodPut, "/v1/carts/" + o.cart + "/items/" + o.item, body
	case "remove":
		return http.MethodDelete, "/v1/carts/" + o.cart + "/items/" + o.item, nil
	case "clear":
		return http.MethodDelete, "/v1/carts/" + o.cart, nil
	}
	panic("unknown op kind " + o.kind)
}

// raw sends o with its own Idempotency-Key, retrying transport failures and
// 5xx on the same node with the same key, and sometimes replaying an
// acknowledged request on purpose to check that it is applied once.
func (w *workload) raw(ctx context.Context, o *op, rnd *rand.Rand) {
	if o.key == "" {
		o.key = w.key(0)
	}
	method, path, body := o.request()
	url := w.c.url(o.node, path)
	hdr := map[string]string{"Idempotency-Key": o.key}
	o.invoke = time.Now()
	var code int
	var resp []byte
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(time.Duration(50+rnd.IntN(150)) * time.Millisecond)
		}
		code, resp, err = w.c.request(ctx, method, url, body, hdr)
		if err == nil && code < 500 {
			break
		}
	}
	switch {
	case err == nil && code >= 200 && code < 300:
		var v api.CartView
		if jerr := json.Unmarshal(resp, &v); jerr != nil {
			o.outcome, o.err = outcomeUnknown, "undecodable 2xx: "+jerr.Error()
			break
		}
		o.outcome, o.view, o.complete = outcomeOK, &v, time.Now()
	case err == nil && code >= 400 && code < 500:
		o.outcome, o.complete, o.err = outcomeFail, time.Now(), fmt.Sprintf("HTTP %d: %s", code, bytes.TrimSpace(resp))
	case err != nil:
		o.outcome, o.err = outcomeUnknown, err.Error()
	default:
		o.outcome, o.err = outcomeUnknown, fmt.Sprintf("HTTP %d", code)
	}
	w.h.add(o)
	if o.outcome == outcomeOK && rnd.IntN(10) == 0 {
		// A deliberate retry with the same key must replay the first answer.
		rcode, rresp, rerr := w.c.request(ctx, method, url, body, hdr)
		switch {
		case rerr != nil || rcode >= 500:
			w.h.replayErrs.Add(1)
		case len(resp) > maxKeptAnswer && rcode == code && json.Valid(rresp):
			// The node keeps answers of at most 4 KiB with their key; a larger
			// one replays as the cart's current view. That the change was not
			// applied twice is what the history checker verifies.
			w.h.replays.Add(1)
		case rcode != code || !bytes.Equal(rresp, resp):
			w.h.replayBad.Add(1)
			w.h.badReplay.Store(fmt.Sprintf("%s %s key %s: first %d %q, replay %d %q", method, path, o.key, code, resp, rcode, rresp))
		default:
			w.h.replays.Add(1)
		}
	}
}

// viaClient sends an add through package client, which makes its own key and
// retries connection failures with it.
func (w *workload) viaClient(ctx context.Context, o *op) {
	o.client = true
	o.invoke = time.Now()
	v, err := w.c.client(o.node).AddItem(ctx, o.cart, api.AddItemRequest{Item: o.item, Quantity: o.qty, UnitPriceCents: o.price})
	var apiErr *client.APIError
	switch {
	case err == nil:
		o.outcome, o.view, o.complete = outcomeOK, &v, time.Now()
	case errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500:
		o.outcome, o.complete, o.err = outcomeFail, time.Now(), err.Error()
	default:
		o.outcome, o.err = outcomeUnknown, err.Error()
	}
	w.h.add(o)
}
