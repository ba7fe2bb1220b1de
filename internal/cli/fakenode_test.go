package cli

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

// fakeNode is an in-memory implementation of the crdtd HTTP API for CLI tests: one replica, no
// concurrency semantics, fixed members and status.
type fakeNode struct {
	mu    sync.Mutex
	carts map[string]map[string]*api.Line // cart -> item -> line

	srv *httptest.Server
}

var (
	fakeMembers = api.MemberList{Members: []api.Member{
		{Name: "n1", Addr: "127.0.0.1:7946", Replica: "r-4f1c2a", APIAddr: "127.0.0.1:7070", State: "alive"},
		{Name: "n2", Addr: "127.0.0.1:7947", Replica: "r-9b0e77", APIAddr: "127.0.0.1:7071", State: "alive"},
		{Name: "node-three", Addr: "127.0.0.1:7948", Replica: "r-03d5e1", APIAddr: "127.0.0.1:7072", State: "suspect"},
	}}
	fakeStatus = api.Status{
		Node: "n1", Replica: "r-4f1c2a", APIAddr: "127.0.0.1:7070", GossipAddr: "127.0.0.1:7946",
		Version: "v0.1.0", UptimeSeconds: 3723.254817, Ready: true, Carts: 2, Digest: "0123456789abcdef",
		Members: api.MemberCounts{Alive: 2, Suspect: 1},
		Peers: []api.PeerStatus{
			{Name: "n2", Replica: "r-9b0e77", State: "alive", DigestAgrees: true,
				DigestCheckedSecondsAgo: 1.2, HeartbeatStalenessSeconds: 0.4000004},
			{Name: "node-three", Replica: "r-03d5e1", State: "suspect", DigestAgrees: false,
				DigestCheckedSecondsAgo: 11.872239326999999, HeartbeatStalenessSeconds: -1},
		},
	}
)

// newFakeNode starts a fake node holding cart alice with 2 apples at 1.25 and 1 bread at 3.00,
// cart bob with 1 pear at 0.50, and cart carol with 3 figs whose price is unknown and 1 kiwi at 0.40.
func newFakeNode(t *testing.T) *fakeNode {
	t.Helper()
	n := &fakeNode{carts: map[string]map[string]*api.Line{
		"alice": {
			"apple": {Item: "apple", Quantity: 2, UnitPriceCents: api.Cents(125)},
			"bread": {Item: "bread", Quantity: 1, UnitPriceCents: api.Cents(300)},
		},
		"bob": {"pear": {Item: "pear", Quantity: 1, UnitPriceCents: api.Cents(50)}},
		"carol": {
			"fig":  {Item: "fig", Quantity: 3},
			"kiwi": {Item: "kiwi", Quantity: 1, UnitPriceCents: api.Cents(40)},
		},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/carts", func(w http.ResponseWriter, _ *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		list := api.CartList{Carts: []string{}}
		for c, lines := range n.carts {
			if len(lines) > 0 {
				list.Carts = append(list.Carts, c)
			}
		}
		slices.Sort(list.Carts)
		writeJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("GET /v1/carts/{cart}", n.cartHandler(func(string, map[string]*api.Line, *http.Request) error { return nil }))
	mux.HandleFunc("DELETE /v1/carts/{cart}", n.cartHandler(func(_ string, lines map[string]*api.Line, _ *http.Request) error {
		clear(lines)
		return nil
	}))
	mux.HandleFunc("POST /v1/carts/{cart}/items", n.cartHandler(func(_ string, lines map[string]*api.Line, r *http.Request) error {
		var req api.AddItemRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return badRequest("bad body")
		}
		if req.Quantity < 1 || req.Quantity > api.MaxAddQuantity {
			return badRequest("quantity out of range 1..1000000")
		}
		l := lines[req.Item]
		if l == nil {
			l = &api.Line{Item: req.Item}
			lines[req.Item] = l
		}
		l.Quantity += req.Quantity
		if req.UnitPriceCents != nil {
			l.UnitPriceCents = api.Cents(*req.UnitPriceCents)
		}
		return nil
	}))
	mux.HandleFunc("PUT /v1/carts/{cart}/items/{item}", n.cartHandler(func(_ string, lines map[string]*api.Line, r *http.Request) error {
		var req api.SetItemRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return badRequest("bad body")
		}
		item := r.PathValue("item")
		l := lines[item]
		if l == nil {
			l = &api.Line{Item: item}
			lines[item] = l
		}
		if req.Quantity != nil {
			l.Quantity = *req.Quantity
		}
		if req.UnitPriceCents != nil {
			l.UnitPriceCents = api.Cents(*req.UnitPriceCents)
		}
		if l.Quantity == 0 {
			delete(lines, item)
		}
		return nil
	}))
	mux.HandleFunc("DELETE /v1/carts/{cart}/items/{item}", n.cartHandler(func(_ string, lines map[string]*api.Line, r *http.Request) error {
		delete(lines, r.PathValue("item"))
		return nil
	}))
	mux.HandleFunc("GET /v1/members", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, fakeMembers)
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, fakeStatus)
	})
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

type apiError client.APIError

func (e *apiError) Error() string { return e.Message }

func badRequest(msg string) error {
	return &apiError{StatusCode: http.StatusBadRequest, Code: api.CodeInvalidArgument, Message: msg}
}

// cartHandler runs op on the lines of the request's cart under the lock, then answers with the
// cart view.
func (n *fakeNode) cartHandler(op func(cart string, lines map[string]*api.Line, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cart := r.PathValue("cart")
		n.mu.Lock()
		defer n.mu.Unlock()
		lines := n.carts[cart]
		if lines == nil {
			lines = map[string]*api.Line{}
			n.carts[cart] = lines
		}
		if err := op(cart, lines, r); err != nil {
			e := err.(*apiError)
			writeJSON(w, e.StatusCode, api.ErrorBody{Error: api.ErrorDetail{Code: e.Code, Message: e.Message}})
			return
		}
		view := api.CartView{Cart: cart, Items: []api.Line{}}
		for _, item := range slices.Sorted(maps.Keys(lines)) {
			l := *lines[item]
			if l.UnitPriceCents == nil {
				view.UnpricedItems++
			} else {
				l.SubtotalCents = api.Cents(l.Quantity * *l.UnitPriceCents)
				view.TotalCents += *l.SubtotalCents
			}
			view.Items = append(view.Items, l)
		}
		writeJSON(w, http.StatusOK, view)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// clientFunc returns a factory Client function for the fake node.
func (n *fakeNode) clientFunc(t *testing.T) func() (*client.Client, error) {
	t.Helper()
	return func() (*client.Client, error) {
		return client.New(client.Config{BaseURL: n.srv.URL})
	}
}
