package loadgen

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/crdtd/crdtd/api"
)

// viewServer answers every request with status and body, and counts the connections it accepted.
func viewServer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

const aliceJSON = `{"cart":"alice","items":[{"item":"apple","quantity":2,"unit_price_cents":125,"subtotal_cents":250}],"total_cents":250}`

// TestWorkersSkipViews checks that the workers' clients get the outcome of a cart call without
// its view, over kept-alive connections, while the sampler's clients get the view.
func TestWorkersSkipViews(t *testing.T) {
	srv, conns := viewServer(t, http.StatusOK, aliceJSON)
	p := newPool(4, nil)
	t.Cleanup(p.closeIdle)

	c, err := p.client(srv.URL, "", -1, false)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, err := c.AddItem(context.Background(), "alice", api.AddItemRequest{Item: "apple", Quantity: 2})
		if err != nil {
			t.Fatal(err)
		}
		if want := (api.CartView{Items: []api.Line{}}); !reflect.DeepEqual(got, want) {
			t.Errorf("view for a worker: got %+v, want %+v", got, want)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("3 calls whose views were skipped opened %d connections, want 1", got)
	}

	v, err := p.client(srv.URL, "", -1, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.GetCart(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := api.CartView{Cart: "alice", Items: []api.Line{{Item: "apple", Quantity: 2, UnitPriceCents: api.Cents(125), SubtotalCents: api.Cents(250)}}, TotalCents: 250}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("view for the sampler: got %+v, want %+v", got, want)
	}
}

// TestWorkersSkipViewsFailures checks that answers a worker's client would reject with its view
// are rejected, and counted, as they were before: skipping views hides no failure.
func TestWorkersSkipViewsFailures(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantKind string
	}{
		{"not an object", http.StatusOK, `[1,2]`, "other"},
		{"empty", http.StatusOK, ``, "other"},
		{"API error", http.StatusBadRequest, `{"error":{"code":"invalid_argument","message":"bad item"}}`, "invalid_argument"},
		{"unavailable", http.StatusServiceUnavailable, `{"error":{"code":"unavailable","message":"later"}}`, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := viewServer(t, tt.status, tt.body)
			p := newPool(4, nil)
			t.Cleanup(p.closeIdle)
			c, err := p.client(srv.URL, "", -1, false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetCart(context.Background(), "alice")
			if err == nil {
				t.Fatalf("answer %d %q: got no error, want one of kind %q", tt.status, tt.body, tt.wantKind)
			}
			if got := errorKind(err); got != tt.wantKind {
				t.Errorf("answer %d %q: error %v of kind %q, want %q", tt.status, tt.body, err, got, tt.wantKind)
			}
		})
	}
}
